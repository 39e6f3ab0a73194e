"""Test helpers shared by unit and integration tests (fakes of outside services)."""
