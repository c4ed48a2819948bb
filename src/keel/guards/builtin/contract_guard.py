"""The input contract as a guard: structured input is adapted to the route's canonical shape and validated.

List it first among the input guards: it rewrites the prompt (the canonical JSON, or a template), and
the guards after it — PII, injection — should see what the model will see. A violation answers 400
``input_contract_violation`` naming each field path and problem (see ``keel.guards.contracts``).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from keel.config.base import StrictModel
from keel.guards.base import Guard, GuardResources, GuardState, Json, Outcome
from keel.guards.contracts import InputContract, apply_contract


class ContractGuard(Guard):
    Params: ClassVar[type[StrictModel]] = InputContract
    description: ClassVar[str] = "Adapts XML, CSV, form or other JSON input to a canonical shape and validates it."

    def __init__(self, name: str, params: StrictModel, resources: GuardResources) -> None:
        super().__init__(name, params, resources)
        assert isinstance(params, InputContract)
        self._contract = params

    @classmethod
    def prepare(cls, params: StrictModel, base_dir: Path) -> StrictModel:
        assert isinstance(params, InputContract)
        return params.with_schema_file_read(base_dir)

    async def check_input(self, body: Json, state: GuardState) -> Outcome:
        adapted = apply_contract(body, self._contract)  # a ContractError is the caller's 400
        return Outcome(self.verdict("input"), adapted)
