"""A monthly consumption budget on the stack's resource group, e-mailing at each threshold.

Azure requires a budget to start on the first day of a month and, for a start in the past, within
the current month: when the config gives no ``start_date`` the budget starts on the first day of
the month it is created in, and later runs leave that date alone (``ignore_changes``).
"""

from __future__ import annotations

from datetime import date

import pulumi
from pulumi_azure_native import consumption, resources

from .config import BudgetConfig, StackConfig
from .naming import Names


def start_date(budget: BudgetConfig, today: date) -> str:
    """The budget's start as Azure expects it: the first of a month, ISO 8601 with time."""
    first = budget.start_date or today.replace(day=1)
    return f"{first.isoformat()}T00:00:00Z"


def notifications(budget: BudgetConfig) -> dict[str, consumption.NotificationArgs]:
    return {
        f"{n.type.lower()}-{n.percent:g}-percent": consumption.NotificationArgs(
            enabled=True,
            operator="GreaterThanOrEqualTo",
            threshold=n.percent,
            threshold_type=n.type,
            contact_emails=list(budget.emails),
        )
        for n in budget.notifications
    }


def create(cfg: StackConfig, names: Names, rg: resources.ResourceGroup, today: date) -> consumption.Budget:
    return consumption.Budget(
        "budget",
        budget_name=names.budget,
        scope=rg.id,
        amount=cfg.budget.amount,
        category="Cost",
        time_grain="Monthly",
        time_period=consumption.BudgetTimePeriodArgs(start_date=start_date(cfg.budget, today)),
        notifications=notifications(cfg.budget),
        opts=pulumi.ResourceOptions(parent=rg, ignore_changes=["timePeriod"]),
    )
