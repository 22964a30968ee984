"""The files of a generated case, as `hitsim generate` writes them (key, paper chart, pre-entered record)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

from simulator.chart import render_chart_html
from simulator.generate.consistency import consistency_for, detected_issues
from simulator.generate.faults import PlantedFault, plant_faults
from simulator.generate.key import GeneratedCase, key_json


def preentered_record(case: GeneratedCase) -> tuple[dict[str, Any], list[PlantedFault]]:
    """The verify task's starting record: the key with the scenario's planted faults (same seed, same faults)."""
    return plant_faults(case.key, case.scenario.fault_count, random.Random(f"faults:{case.seed}"),
                        case.scenario.fault_kinds)


@dataclass(frozen=True)
class CaseFiles:
    """The exact bytes of every file `hitsim generate` writes, keyed by file name."""

    files: dict[str, str]


def case_files(case: GeneratedCase) -> CaseFiles:
    files = {"key.json": key_json(case), "chart.html": render_chart_html(case)}
    if case.scenario.fault_count:
        record, faults = preentered_record(case)
        files["preentered.json"] = json.dumps(record, indent=2, ensure_ascii=False) + "\n"
        files["planted-faults.json"] = json.dumps([f.as_dict() for f in faults], indent=2, ensure_ascii=False) + "\n"
    if "consistency" in case.scenario.tasks:
        consistency = consistency_for(case)
        files["consistency-record.json"] = json.dumps(consistency.record, indent=2, ensure_ascii=False) + "\n"
        files["consistency-key.json"] = json.dumps(
            {"resourceType": "Bundle", "type": "collection",
             "entry": [{"fullUrl": f"urn:uuid:{i['id']}", "resource": i} for i in detected_issues(consistency)]},
            indent=2, ensure_ascii=False) + "\n"
    return CaseFiles(files)
