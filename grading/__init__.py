"""The grading engine: compare a student's FHIR record with the answer key, field by field.

Pure library: no database, no UI, no import of ``simulator``. ``grade(key, submission, rubric)``
takes FHIR R4 Bundles (dicts or ``fhir.resources.R4B`` models) and returns a GradeReport.
"""

from grading.grade import GRADER_VERSION, grade
from grading.report import Finding, GradeReport, SectionScore
from grading.rubric import Rubric, RubricError, default_rubric, load_rubric, parse_rubric, rubric_with

__all__ = ["GRADER_VERSION", "Finding", "GradeReport", "Rubric", "RubricError", "SectionScore", "default_rubric",
           "grade", "load_rubric", "parse_rubric", "rubric_with"]
