"""The generator: scenario + seed -> answer-key Bundle, paper chart and (for verify tasks) a faulty record."""

from simulator.generate.faults import PlantedFault, plant_faults
from simulator.generate.key import GeneratedCase, generate_case, key_json
from simulator.generate.scenario import Scenario, ScenarioError, load_scenario

__all__ = ["GeneratedCase", "PlantedFault", "Scenario", "ScenarioError", "generate_case", "key_json",
           "load_scenario", "plant_faults"]
