"""One metric per module, each defined in its docstring against docs/billing-domain.md §7."""
