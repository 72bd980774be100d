"""Each bug `tests/planted_bugs.py` plants must still find its line: a text that moved away would
make the planted-bug check report nothing."""
import pytest

from tests.planted_bugs import BUGS, ROOT


@pytest.mark.parametrize("name", sorted(BUGS))
def test_the_planted_bug_text_is_in_its_file_exactly_once(name):
    path, old, _ = BUGS[name]
    assert (ROOT / path).read_text().count(old) == 1
