"""Automations: YAML workflows of connector steps (model, loader, runner, built-in steps, conditions).

The Python entry points are re-exported here (`relaykit.automation.load_automation`, ...).
"""

from .loader import check_automation, load_automation, parse_automation
from .model import Automation, AutomationInputError, AutomationRun, StepResult, StepRun
from .runner import run_automation

__all__ = ["Automation", "AutomationInputError", "AutomationRun", "StepResult", "StepRun", "check_automation",
           "load_automation", "parse_automation", "run_automation"]
