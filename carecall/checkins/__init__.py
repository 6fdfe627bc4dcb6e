"""The check-in program: who is called when (plans, calling hours), the dispatcher that dials
due check-ins exactly once, what each try's result means (retries), and escalation to
caregivers."""
