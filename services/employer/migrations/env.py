from services.employer.models import EmployerBase
from shared.migrations import run_env

run_env(EmployerBase.metadata)
