"""One metric per module, each defined in its docstring against billing-domain.md §7."""
