"""Realism studies: study files, trial assignment, the vote log and the report. Never imports torch."""
