"""Reads a JUnit XML file with junitparser, a real JUnit consumer, and prints what it sees as
JSON, for xtask/tests/junit.rs to check. Any file junitparser cannot read fails here."""

import json
import sys

from junitparser import JUnitXml

xml = JUnitXml.fromfile(sys.argv[1])
if not isinstance(xml, JUnitXml):
    sys.exit(f"the root element is not <testsuites>: {type(xml).__name__}")
suites = []
for suite in xml:
    cases = []
    for case in suite:
        cases.append(
            {
                "classname": case.classname,
                "name": case.name,
                "passed": case.is_passed,
                "skipped": case.is_skipped,
                "results": [
                    {
                        "kind": type(r).__name__.lower(),
                        "type": r.type,
                        "message": r.message,
                        "text": r.text,
                    }
                    for r in case.result
                ],
                "system_out": case.system_out,
            }
        )
    suites.append(
        {
            "name": suite.name,
            "tests": suite.tests,
            "failures": suite.failures,
            "errors": suite.errors,
            "skipped": suite.skipped,
            "cases": cases,
        }
    )
print(
    json.dumps(
        {
            "tests": xml.tests,
            "failures": xml.failures,
            "errors": xml.errors,
            "skipped": xml.skipped,
            "suites": suites,
        }
    )
)
