"""How long grading one answer or one program may take: one definition for every grader.

A reward's ``timeout`` option overrides it (``rewards: {accuracy: {weight: 1.0, timeout: 10}}``).
"""

GRADING_TIMEOUT = 5.0  # seconds
