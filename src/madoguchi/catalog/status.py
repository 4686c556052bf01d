"""The step that writes a procedure's status (公開・受付終了・準備中).

Not a use case: it joins the caller's transaction and checks nobody's role. The one public
service is :func:`madoguchi.applications.publishing.procedure_set_status`, which purges the
operational-test applications in the same transaction before a procedure leaves 準備中
(catalog sits below applications and cannot see them). An import-linter contract keeps the
entry apps away from this module.
"""

from __future__ import annotations

from madoguchi.catalog.constants import ProcedureStatus
from madoguchi.catalog.models import Procedure, ProcedureTester


def procedure_status_store(*, procedure: Procedure, status: ProcedureStatus) -> int:
    """Write ``status`` on the (locked) ``procedure``; leaving 準備中 ends its operational
    test: the testers are deleted and ``test_started_at`` cleared. Returns the number of
    testers deleted. Must run inside the caller's transaction."""
    testers = 0
    fields = ["status", "updated_at"]
    if procedure.status == ProcedureStatus.DRAFT and status != ProcedureStatus.DRAFT:
        testers, _ = ProcedureTester.objects.filter(
            organisation_id=procedure.organisation_id, procedure=procedure
        ).delete()
        procedure.test_started_at = None
        fields.append("test_started_at")
    procedure.status = status
    procedure.save(update_fields=fields)
    return testers
