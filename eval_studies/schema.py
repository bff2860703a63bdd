"""The vote log's columns, shared by the study server (writer) and the report (reader)."""

VOTE_COLUMNS = (
    "vote_id", "timestamp", "study_id", "rater_id", "trial_index", "trial_kind", "task", "item",
    "left_condition", "right_condition", "left_stimulus", "right_stimulus", "choice", "chosen_condition",
    "correct", "response_ms", "app_version",
)
TRIAL_KINDS = ("practice", "scored", "catch")
TASKS = ("pairwise", "real_fake")
# choice values: pairwise -> "left" | "right"; real_fake -> "real" | "fake"
CHOICES = {"pairwise": ("left", "right"), "real_fake": ("real", "fake")}
