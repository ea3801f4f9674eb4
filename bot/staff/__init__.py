"""Staff operations: every rule behind the staff slash commands, testable without Discord.

Modules, one concept each:

- :mod:`bot.staff.permissions` — who is staff (a role in ``STAFF_ROLE_IDS``/``/setup staff-role`` or
  Manage Server), the ``staff_only()`` app-command check and the button-level check every View uses;
- :mod:`bot.staff.errors` — the staff error classes and their user-facing rendering (one place);
- :mod:`bot.staff.inputs` — usernames, item codes and amounts validated before any call;
- :mod:`bot.staff.prechecks` — the parallel Market pre-checks with precise failure messages;
- :mod:`bot.staff.limits` — the per-staff daily spending limit and the per-member cooldown;
- :mod:`bot.staff.audit` — audit records (stored, posted through the outbox), pagination, CSV export;
- :mod:`bot.staff.approvals` — persisted two-person approvals for large transfers;
- :mod:`bot.staff.spending` — :class:`~bot.staff.spending.SpendingService`: quote, confirm (single-flight),
  execute through the journal, audit, success hooks;
- :mod:`bot.staff.rendering` — pure embed builders used by the cogs.
"""
