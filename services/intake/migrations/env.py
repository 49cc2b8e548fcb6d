from services.intake.models import IntakeBase
from shared.migrations import run_env

run_env(IntakeBase.metadata)
