"""Request body parsers: DRF's, minus the ways a hostile body escapes them as a server error."""

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser only turns ValueError into a 400; `[[[[...` thousands deep raises
    RecursionError from the decoder, which would be a 500 (and, audited, a 500 row)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply.") from None
