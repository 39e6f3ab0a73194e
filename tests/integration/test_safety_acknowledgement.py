""""ok", "k", "sure" or "fine" typed at a safety question, through the real servers (issue
18): never recorded as an answer, the question asked again, and a clear answer after it
still counts."""

from __future__ import annotations

import pytest

from clinic.knowledge import messages as M
from clinic.knowledge.kb import knowledge
from tests.integration.test_safety_issue22 import number, sender, slots, up_to

pytestmark = pytest.mark.integration
K = knowledge()


@pytest.mark.parametrize("reply", ["ok", "sure"])
def test_ok_at_a_deciding_question_is_asked_again_never_recorded(assistant_servers,
                                                                  reply) -> None:
    s, who = assistant_servers, sender()
    up_to(s, who, "pregnancy")
    text = s.texts(who, reply)
    assert K.say(M.SCREENING_NEEDS_YES_OR_NO) in text
    assert f"Question {number('pregnancy')} of" in text
    assert (slots(s, who)["screening_answers"] or {}).get("pregnancy") is None
    text = s.texts(who, "no")
    assert f"Question {number('pregnancy') + 1} of" in text
    assert slots(s, who)["screening_answers"]["pregnancy"] == "no"
