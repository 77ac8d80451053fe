"""Pure domain logic: no AWS, testable without moto."""
