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
# written by the study server after VOTE_COLUMNS; logs without it (older ones, simulated ones) stay valid
LOG_EXTRA_COLUMNS = ("exposure_ms",)  # how long the image stayed on screen ("" = until the answer)

# logs beside votes.csv (append-only CSV, one row per event; never read for the tables themselves)
AUDIT_COLUMNS = ("timestamp", "study_id", "rater_id", "session", "trial_index", "reason", "detail")
SESSION_COLUMNS = ("timestamp", "study_id", "rater_id", "session", "event", "trial_index", "device", "screen",
                   "viewport", "touch", "reloads", "hidden_ms", "detail")
SESSION_EVENTS = ("open", "consent", "declined", "client", "withdrawn", "finished")
PROBLEM_COLUMNS = ("timestamp", "study_id", "rater_id", "session", "trial_index", "text")
SHOWN_COLUMNS = ("rater_id", "trial_index", "first_shown_ms", "exposure_ms")
