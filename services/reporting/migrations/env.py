from services.reporting.models import ReportingBase
from shared.migrations import run_env

run_env(ReportingBase.metadata)
