"""The grading engine: compares a student's FHIR record with the answer key.

Pure library (no database, no UI). Filled by the grader issue (#4).
"""
