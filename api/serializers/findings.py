"""Wire shapes of findings files: the list of a plan's files, and one task's files with their content."""

from drf_spectacular.utils import OpenApiExample, extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from api.rendering import render_markdown
from api.selectors.findings import MAX_FINDING_BYTES

_FILE = {"task_id": "1.1", "file": "1-1-unused-python-files.md",
         "path": "docs/plan-outputs/alpha/findings/1-1-unused-python-files.md", "size": 2311,
         "modified": "2025-12-27T06:08:08.574000Z"}


@extend_schema_serializer(examples=[OpenApiExample("Findings file", value=_FILE)])
class FindingFileSerializer(serializers.Serializer):
    task_id = serializers.CharField(
        allow_null=True, help_text='From the file name ("1.1.md", "1-1-slug.md", "1.1-slug.md"); null for '
                                   "plan-level notes.")
    file = serializers.CharField()
    path = serializers.CharField(help_text="Relative to the repository root.")
    size = serializers.IntegerField(help_text="Bytes.")
    modified = serializers.DateTimeField()


class FindingContentSerializer(FindingFileSerializer):
    content = serializers.CharField(help_text="Markdown, UTF-8 (undecodable bytes replaced).")
    truncated = serializers.BooleanField(help_text=f"The file is longer than {MAX_FINDING_BYTES} bytes.")
    html = serializers.SerializerMethodField(
        help_text="`content` rendered from Markdown and sanitised (raw HTML escaped, scripts, handlers and "
                  "unsafe URLs removed): safe to insert into a page as is.")

    @extend_schema_field(str)
    def get_html(self, finding) -> str:
        return str(render_markdown(finding.content))


@extend_schema_serializer(examples=[OpenApiExample("Findings of a task", value={
    "plan": "alpha", "task_id": "1.1",
    "files": [{**_FILE, "content": "# Findings\n\nThree unused modules.\n", "truncated": False,
              "html": "<h1>Findings</h1>\n<p>Three unused modules.</p>"}]})])
class FindingSerializer(serializers.Serializer):
    plan = serializers.CharField()
    task_id = serializers.CharField()
    files = FindingContentSerializer(many=True, help_text="Every file of the task, e.g. 1.1.md and 1-1-notes.md.")
