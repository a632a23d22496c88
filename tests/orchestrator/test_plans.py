import os
import textwrap

import pytest

from orchestrator import plans
from orchestrator.plans import UNPHASED, is_plan, parse_plan, read_plan


def ids(plan):
    return [task.id for task in plan.tasks]


def md(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def test_title_phases_and_tasks_are_read_in_order():
    plan = parse_plan(md("""
        # Implementation Plan: Thing

        ## Phase 1: Event Bus Foundation
        - [ ] 1.1 Create the bus
        - [x] 1.2 Wire it up

        ## Phase 2: API
        - [ ] 2.1 Add endpoints
    """))
    assert plan.title == "Implementation Plan: Thing"
    assert [(p.number, p.title) for p in plan.phases] == [(1, "Phase 1: Event Bus Foundation"), (2, "Phase 2: API")]
    first, second, third = plan.tasks
    assert (first.id, first.description, first.phase, first.phase_number, first.checked, first.line) == (
        "1.1", "Create the bus", "Phase 1: Event Bus Foundation", 1, False, 4)
    assert second.checked and second.id == "1.2"
    assert third.phase == "Phase 2: API" and third.line == 8


def test_star_bullets_and_capital_x_are_checklist_items():
    plan = parse_plan("# T\n## Phase 1: A\n* [X] 1.1 done\n+ [ ] 1.2 open\n")
    assert [(t.id, t.checked) for t in plan.tasks] == [("1.1", True), ("1.2", False)]


@pytest.mark.parametrize("line, expected", [
    ("- [ ] 1.2 Text", ("1.2", "Text")),
    ("- [ ] 1.2. Text", ("1.2", "Text")),
    ("- [ ] 1.2: Text", ("1.2", "Text")),
    ("- [ ] **1.2** Text", ("1.2", "Text")),
    ("- [ ] **1.2:** Text", ("1.2", "Text")),
    ("- [ ] 1.2.3 Sub-task", ("1.2.3", "Sub-task")),
])
def test_id_spellings(line, expected):
    (task,) = parse_plan(f"# T\n## Phase 1: A\n{line}\n").tasks
    assert (task.id, task.description) == expected


def test_crlf_and_lone_cr_line_endings_parse_like_lf():
    lf = "# T\n## Phase 1: A\n- [ ] 1.1 a\n- [x] 1.2 b\n"
    for text in (lf.replace("\n", "\r\n"), lf.replace("\n", "\r")):
        plan = parse_plan(text)
        assert plan.title == "T"
        assert [(t.id, t.description, t.line) for t in plan.tasks] == [("1.1", "a", 3), ("1.2", "b", 4)]


def test_checklist_lines_inside_fences_are_ignored():
    plan = parse_plan(md("""
        # T
        ## Phase 1: A
        ```markdown
        ## Phase 9: Not a phase
        - [ ] 9.1 example in a code block
        ```
        ~~~~
        - [ ] 1.5 also an example
        ```
        - [ ] 1.6 still inside the tilde fence
        ~~~~
        - [ ] 1.1 real
    """))
    assert ids(plan) == ["1.1"]
    assert [p.number for p in plan.phases] == [1]


def test_id_less_lines_are_numbered_within_their_phase():
    plan = parse_plan(md("""
        # T
        ## Phase 3: C
        - [ ] first
        - [ ] second
        ## Phase 4: D
        - [ ] 4.1 explicit
        - [ ] after explicit
    """))
    assert [(t.id, t.description) for t in plan.tasks] == [
        ("3.1", "first"), ("3.2", "second"), ("4.1", "explicit"), ("4.2", "after explicit")]


def test_generated_ids_never_shadow_explicit_ones_and_duplicates_keep_the_first():
    plan = parse_plan("# T\n## Phase 1: A\n- [ ] no id\n- [ ] 1.1 explicit later\n- [ ] 1.1 duplicate\n")
    assert [(t.id, t.description) for t in plan.tasks] == [("1.2", "no id"), ("1.1", "explicit later")]


def test_sub_tasks_flat_or_indented_keep_their_ids_and_indented_notes_are_not_tasks():
    plan = parse_plan(md("""
        # T
        ## Phase 1: A
        ### 1.1 Section
        - [ ] 1.1.1 flat sub-task
        - [ ] 1.2 parent
          - [ ] 1.2.1 indented sub-task
          - [ ] indented note without id
            - detail
    """))
    assert ids(plan) == ["1.1.1", "1.2", "1.2.1"]


def test_items_under_other_sections_are_not_tasks():
    plan = parse_plan(md("""
        # T
        ## Overview
        - [ ] 0.1 looks like a task but is in the overview
        ## Phase 1: A
        - [ ] 1.1 real
        ## Success Criteria
        - [ ] All tests pass
        - [ ] 1.9 numbered criterion
        ### Quality
        - [ ] Still criteria
    """))
    assert ids(plan) == ["1.1"]


def test_verify_paragraph_and_its_checklist_are_not_tasks_but_a_verify_item_is():
    plan = parse_plan(md("""
        # T
        ## Phase 1: A
        - [ ] 1.1 build
        - [ ] **VERIFY 1**: build output checked

        **VERIFY Phase 1:**
        - [ ] the build is green
        - [ ] 1.3 numbered verification step

        **Tasks:**
        - [ ] follow-up work
    """))
    assert [(t.id, t.description) for t in plan.tasks] == [
        ("1.1", "build"), ("1.2", "**VERIFY 1**: build output checked"),
        ("1.3", "numbered verification step"), ("1.4", "follow-up work")]


def test_tasks_before_the_first_phase_form_an_unphased_phase():
    plan = parse_plan(md("""
        # T
        - [ ] prepare the repo
        - [ ] 0.5 explicit early task
        ## Phase 1: A
        - [ ] 1.1 real
    """))
    first = plan.phases[0]
    assert (first.number, first.title) == (None, UNPHASED)
    assert [(t.id, t.phase, t.phase_number) for t in first.tasks] == [
        ("0.1", UNPHASED, None), ("0.5", UNPHASED, None)]
    assert ids(plan) == ["0.1", "0.5", "1.1"]


def test_plan_without_early_tasks_has_no_unphased_phase():
    assert [p.number for p in parse_plan("# T\n## Phase 1: A\n- [ ] 1.1 a\n").phases] == [1]


def test_empty_checkbox_lines_are_skipped():
    assert ids(parse_plan("# T\n## Phase 1: A\n- [ ]\n- [ ]   \n- [ ] 1.1 a\n")) == ["1.1"]


def test_is_plan_needs_a_phase_heading_outside_code():
    assert is_plan("# T\n## Phase 1: A\n")
    assert not is_plan("# Readme\n## Usage\n- [ ] 1.1 something\n")
    assert not is_plan("# T\n```\n## Phase 1: A\n```\n")
    assert not is_plan("# T\n### Phase 1: A\n")


def test_read_plan_parses_files_with_bom_and_crlf(repo):
    path = repo.plan("crlf", text=b"\xef\xbb\xbf# Title\r\n## Phase 1: A\r\n- [ ] 1.1 a\r\n")
    plan = read_plan(path)
    assert plan.title == "Title" and ids(plan) == ["1.1"]


def test_read_plan_of_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_plan(tmp_path / "nope.md")


def test_read_plan_reuses_the_parse_while_the_file_is_unchanged(repo, monkeypatch):
    path = repo.age(repo.plan("alpha"), seconds=30)
    first = read_plan(path)
    monkeypatch.setattr(plans, "parse_plan", lambda text: pytest.fail("re-parsed an unchanged file"))
    assert read_plan(path) is first


def test_read_plan_notices_same_size_rewrite_with_new_mtime(repo):
    path = repo.age(repo.plan("alpha", {"A": ["1.1 aaa"]}), seconds=60)
    assert read_plan(path).tasks[0].description == "aaa"
    old = path.stat()
    path.write_text(path.read_text().replace("aaa", "bbb"))
    os.utime(path, ns=(old.st_atime_ns, old.st_mtime_ns + 5_000_000_000))
    assert path.stat().st_size == old.st_size
    assert read_plan(path).tasks[0].description == "bbb"


def test_read_plan_notices_a_replaced_file_with_identical_mtime_and_size(repo, tmp_path):
    path = repo.age(repo.plan("alpha", {"A": ["1.1 aaa"]}), seconds=60)
    assert read_plan(path).tasks[0].description == "aaa"
    old = path.stat()
    other = tmp_path / "replacement.md"
    other.write_text(path.read_text().replace("aaa", "ccc"))
    os.utime(other, ns=(old.st_atime_ns, old.st_mtime_ns))
    os.replace(other, path)
    assert read_plan(path).tasks[0].description == "ccc"


def test_read_plan_recent_in_place_rewrite_within_one_timestamp_tick_is_noticed(repo):
    path = repo.plan("alpha", {"A": ["1.1 aaa"]})
    st = path.stat()
    assert read_plan(path).tasks[0].description == "aaa"
    with open(path, "r+") as handle:  # same inode, same size, mtime forced back: a coarse-clock rewrite
        text = handle.read()
        handle.seek(0)
        handle.write(text.replace("aaa", "ddd"))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert read_plan(path).tasks[0].description == "ddd"

