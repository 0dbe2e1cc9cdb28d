"""The Clio resources the sandbox serves: field names, associations and write rules.

Field names follow the response schemas of Clio's OpenAPI spec (docs/vendors/clio.md §3, [SPEC26]).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class Assoc:
    """A nested object field; target names the sandbox collection it points at, if any."""

    target: str | None = None
    many: bool = False
    # Fields of the target this association does not show (the spec nests a narrower schema).
    hidden: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Resource:
    """One collection and how the API exposes it."""

    name: str
    path: str
    scalars: frozenset[str]
    assocs: Mapping[str, Assoc]
    string_ids: bool = False
    default_order: str = "id(asc)"
    max_limit: int = 200
    # "rw": simulated create/update/delete; "ro": Clio has no write routes (404);
    # "partial": Clio has writes the sandbox does not simulate (501).
    writes: str = "ro"
    write_keys: frozenset[str] = frozenset()
    required_on_create: tuple[str, ...] = ()
    # Activity association names that point back at this resource (time_entries).
    time_entry_links: tuple[str, ...] = ()
    webhook_model: str | None = None
    not_simulated: frozenset[str] = field(default_factory=frozenset)

    def has_field(self, name: str) -> bool:
        """Say whether name is a field of this resource."""
        return name in self.scalars or name in self.assocs


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _assocs(**targets: Assoc) -> Mapping[str, Assoc]:
    return MappingProxyType(targets)


_ONE = Assoc()
_MANY = Assoc(many=True)
# The spec nests ActivityRate_base on a contact: no user, no group (docs/vendors/clio.md §3.3, §3.6).
_RATE_BASE_HIDES = frozenset({"user", "group"})

ACTIVITIES = Resource(
    name="activities",
    path="activities",
    scalars=_names(
        "id etag type date quantity_in_hours rounded_quantity_in_hours quantity rounded_quantity"
        " quantity_redacted price note flat_rate billed on_bill total contingency_fee"
        " created_at updated_at reference non_billable non_billable_total no_charge tax_setting"
    ),
    assocs=_assocs(
        currency=_ONE,
        activity_description=Assoc("activity_descriptions"),
        expense_category=_ONE,
        bill=Assoc("bills"),
        communication=Assoc("communications"),
        client_portal=_ONE,
        matter=Assoc("matters"),
        matter_note=Assoc("notes"),
        contact_note=Assoc("notes"),
        subject=_ONE,
        timer=_ONE,
        user=Assoc("users"),
        utbms_expense=Assoc("utbms_codes"),
        vendor=Assoc("contacts"),
        calendar_entry=Assoc("calendar_entries"),
        task=Assoc("tasks"),
        text_message_conversation=_ONE,
        document_version=_ONE,
        legal_aid_uk_activity=_ONE,
    ),
    writes="rw",
    write_keys=_names(
        "activity_description calendar_entry client_portal communication contact_note date"
        " expense_category matter matter_note no_charge non_billable note price quantity"
        " reference start_timer task tax_setting text_message_conversation type user"
        " utbms_expense vendor"
    ),
    required_on_create=("type", "date"),
    webhook_model="activity",
)

ACTIVITY_DESCRIPTIONS = Resource(
    name="activity_descriptions",
    path="activity_descriptions",
    scalars=_names(
        "id etag name visible_to_co_counsel created_at updated_at default type"
        " utbms_activity_id utbms_task_name utbms_task_id xero_service_code"
        " accessible_to_user category_type"
    ),
    assocs=_assocs(
        currency=_ONE,
        groups=_MANY,
        rate=_ONE,
        utbms_task=Assoc("utbms_codes"),
        utbms_activity=Assoc("utbms_codes"),
    ),
    writes="rw",
    write_keys=_names("currency default groups name rate visible_to_co_counsel"),
    required_on_create=("name",),
)

USERS = Resource(
    name="users",
    path="users",
    scalars=_names(
        "account_owner clio_connect court_rules_default_attendee created_at default_calendar_id"
        " email enabled etag first_name id initials last_name name phone_number rate roles"
        " subscription_type time_zone updated_at"
    ),
    assocs=_assocs(
        default_activity_description=Assoc("activity_descriptions"),
        notification_methods=_MANY,
        account=_ONE,
        avatar=_ONE,
        contact=Assoc("contacts"),
        job_title=_ONE,
        groups=_MANY,
    ),
    max_limit=2000,  # docs/vendors/clio.md §2: users is the exception with limit up to 2000
)

CONTACTS = Resource(
    name="contacts",
    path="contacts",
    scalars=_names(
        "id etag name first_name middle_name last_name date_of_birth type created_at updated_at"
        " prefix title initials clio_connect_email locked_clio_connect_email"
        " client_connect_user_id primary_email_address secondary_email_address"
        " primary_phone_number secondary_phone_number ledes_client_id"
        " has_clio_for_clients_permission is_client is_clio_for_client_user is_co_counsel"
        " is_bill_recipient sales_tax_number"
    ),
    assocs=_assocs(
        currency=_ONE,
        # Derived from the activity_rates collection: rows whose contact_id is this contact.
        activity_rates=Assoc("activity_rates", many=True, hidden=_RATE_BASE_HIDES),
        addresses=_MANY,
        custom_field_values=_MANY,
        custom_field_set_associations=_MANY,
        email_addresses=_MANY,
        instant_messengers=_MANY,
        phone_numbers=_MANY,
        web_sites=_MANY,
        notification_methods=_MANY,
        account_balances=_MANY,
        related_contacts=Assoc("contacts", many=True),
        kyc_field_values=_MANY,
        primary_work_address=_ONE,
        primary_address=_ONE,
        secondary_address=_ONE,
        company=Assoc("contacts"),
        avatar=_ONE,
        payment_profile=_ONE,
        folder=_ONE,
        # Derived too: the row whose co_counsel_contact_id is this contact.
        co_counsel_rate=Assoc("activity_rates", hidden=_RATE_BASE_HIDES),
        primary_web_site=_ONE,
        legal_aid_uk_contact=_ONE,
    ),
    writes="rw",
    write_keys=_names(
        "addresses avatar clio_connect_email co_counsel_rate company currency"
        " custom_field_set_associations custom_field_values date_of_birth email_addresses"
        " first_name instant_messengers kyc_field_values last_name ledes_client_id middle_name"
        " name phone_numbers prefix sales_tax_number title type web_sites"
    ),
    required_on_create=("name", "type"),
    webhook_model="contact",
)

ACTIVITY_RATES = Resource(
    name="activity_rates",
    path="activity_rates",
    scalars=_names(
        "id etag rate flat_rate created_at updated_at contact_id co_counsel_contact_id"
    ),
    assocs=_assocs(user=Assoc("users"), group=_ONE),
    # docs/vendors/clio.md §3.3: full CRUD. The spec's write body has no user or group (how to target one is
    # UNCONFIRMED), so a body naming them is refused; per-user rates come from the seed or the
    # admin API, as a person sets them in Clio's UI.
    writes="rw",
    write_keys=_names("rate flat_rate contact_id co_counsel_contact_id"),
    required_on_create=("rate",),
)

MATTERS = Resource(
    name="matters",
    path="matters",
    scalars=_names(
        "id etag number display_number custom_number description status location"
        " client_reference client_id billable maildrop_address billing_method open_date"
        " close_date pending_date created_at updated_at shared has_tasks last_activity_date"
        " matter_stage_updated_at"
    ),
    assocs=_assocs(
        currency=_ONE,
        client=Assoc("contacts"),
        contingency_fee=_ONE,
        custom_rate=_ONE,
        evergreen_retainer=_ONE,
        folder=_ONE,
        group=_ONE,
        matter_budget=_ONE,
        matter_stage=_ONE,
        originating_attorney=Assoc("users"),
        practice_area=_ONE,
        responsible_attorney=Assoc("users"),
        responsible_staff=Assoc("users"),
        statute_of_limitations=Assoc("tasks"),
        user=Assoc("users"),
        legal_aid_uk_matter=_ONE,
        attorney_allocation=_ONE,
        account_balances=_MANY,
        custom_field_values=_MANY,
        custom_field_set_associations=_MANY,
        matter_bill_recipients=_MANY,
        relationships=_MANY,
        task_template_list_instances=_MANY,
        kyc_field_values=_MANY,
        split_invoice_payers=_MANY,
    ),
    writes="rw",
    write_keys=_names(
        "billable client client_reference close_date currency custom_field_set_associations"
        " custom_field_values custom_rate description display_number evergreen_retainer group"
        " kyc_field_values location matter_budget matter_stage open_date originating_attorney"
        " pending_date practice_area relationships reset_matter_number responsible_attorney"
        " responsible_staff split_invoice_payers status statute_of_limitations"
        " task_template_list_instances"
    ),
    required_on_create=("client", "description"),
    webhook_model="matter",
)

COMMUNICATIONS = Resource(
    name="communications",
    path="communications",
    scalars=_names(
        "id etag subject body type date time_entries_count created_at updated_at received_at"
    ),
    assocs=_assocs(
        user=Assoc("users"),
        matter=Assoc("matters"),
        communication_eml_file=_ONE,
        senders=_MANY,
        receivers=_MANY,
        external_properties=_MANY,
        time_entries=Assoc("activities", many=True),
        documents=Assoc("documents", many=True),
        notification_event_subscribers=_MANY,
    ),
    default_order="date(asc)",  # docs/vendors/clio.md §2: communications default to date(asc)
    writes="rw",
    write_keys=_names(
        "body external_properties matter notification_event_subscribers received_at receivers"
        " senders subject type"
    ),
    required_on_create=("type", "subject", "body", "received_at"),
    time_entry_links=("communication",),
    webhook_model="communication",
)

CALENDAR_ENTRIES = Resource(
    name="calendar_entries",
    path="calendar_entries",
    scalars=_names(
        "id etag summary description location start_at start_date start_time end_at end_date"
        " end_time all_day recurrence_rule parent_calendar_entry_id court_rule created_at"
        " updated_at permission calendar_owner_id start_at_time_zone time_entries_count"
    ),
    assocs=_assocs(
        time_entries=Assoc("activities", many=True),
        conference_meeting=_ONE,
        matter=Assoc("matters"),
        matter_docket=_ONE,
        calendar_owner=_ONE,
        parent_calendar_entry=Assoc("calendar_entries"),
        calendar_entry_event_type=_ONE,
        attendees=_MANY,
        calendars=_MANY,
        reminders=_MANY,
        external_properties=_MANY,
    ),
    string_ids=True,  # docs/vendors/clio.md §3.9: CalendarEntry id is typed string
    writes="rw",
    write_keys=_names(
        "_deleted all_day attendees calendar_entry_event_type calendar_owner conference_meeting"
        " description end_at external_properties location matter recurrence_rule"
        " send_email_notification start_at summary"
    ),
    required_on_create=("summary", "start_at", "end_at", "calendar_owner"),
    time_entry_links=("calendar_entry",),
    webhook_model="calendar_entry",
)

TASKS = Resource(
    name="tasks",
    path="tasks",
    scalars=_names(
        "id etag name status description description_text_type priority due_at permission"
        " completed_at notify_completion statute_of_limitations time_estimated created_at"
        " updated_at time_entries_count"
    ),
    assocs=_assocs(
        time_entries=Assoc("activities", many=True),
        task_type=_ONE,
        assigner=Assoc("users"),
        matter=Assoc("matters"),
        assignee=_ONE,
        reminders=_MANY,
    ),
    writes="rw",
    write_keys=_names(
        "assignee cascading cascading_offset cascading_offset_polarity cascading_offset_type"
        " cascading_source description description_text_type due_at matter name"
        " notify_assignee notify_completion permission priority status statute_of_limitations"
        " task_type time_estimated"
    ),
    required_on_create=("name", "description", "assignee"),
    time_entry_links=("task",),
    webhook_model="task",
)

DOCUMENTS = Resource(
    name="documents",
    path="documents",
    scalars=_names(
        "id etag created_at updated_at deleted_at type locked name received_at filename size"
        " content_type"
    ),
    assocs=_assocs(
        parent=_ONE,
        matter=Assoc("matters"),
        contact=Assoc("contacts"),
        document_category=_ONE,
        creator=_ONE,
        latest_document_version=_ONE,
        group=_ONE,
        external_properties=_MANY,
    ),
    writes="partial",  # the 3-step S3 upload (docs/vendors/clio.md §3.12) is not simulated
    not_simulated=frozenset({"POST", "PATCH", "DELETE"}),
    webhook_model="document",
)

NOTES = Resource(
    name="notes",
    path="notes",
    scalars=_names(
        "id etag type subject detail detail_text_type date created_at updated_at"
        " time_entries_count"
    ),
    assocs=_assocs(
        matter=Assoc("matters"),
        contact=Assoc("contacts"),
        author=Assoc("users"),
        time_entries=Assoc("activities", many=True),
        notification_event_subscribers=_MANY,
    ),
    writes="rw",
    write_keys=_names(
        "contact date detail detail_text_type matter notification_event_subscribers subject type"
    ),
    required_on_create=("type",),
    time_entry_links=("matter_note", "contact_note"),
)

UTBMS_CODES = Resource(
    name="utbms_codes",
    path="utbms/codes",
    scalars=_names("id etag name code description type utbms_set_id created_at updated_at"),
    assocs=_assocs(),
)

BILLS = Resource(
    name="bills",
    path="bills",
    scalars=_names(
        "id etag number issued_at created_at due_at tax_rate secondary_tax_rate updated_at"
        " subject purchase_order type memo start_at end_at balance state kind total paid"
        " paid_at pending due discount_services_only can_update credits_issued shared"
        " last_sent_at services_secondary_tax services_sub_total services_tax"
        " services_taxable_sub_total services_secondary_taxable_sub_total taxable_sub_total"
        " secondary_taxable_sub_total sub_total tax_sum secondary_tax_sum total_tax"
        " available_state_transitions"
    ),
    assocs=_assocs(
        user=Assoc("users"),
        client=Assoc("contacts"),
        discount=_ONE,
        interest=_ONE,
        matters=Assoc("matters", many=True),
        group=_ONE,
        bill_theme=_ONE,
        original_bill=Assoc("bills"),
        destination_account=_ONE,
        balances=_MANY,
        matter_totals=_MANY,
        currency=_ONE,
        billing_setting=_ONE,
        client_addresses=_MANY,
        legal_aid_uk_bill=_ONE,
        split_invoice=_ONE,
    ),
    # docs/vendors/clio.md §3.13: no POST /bills; PATCH is simulated (state transitions, plain fields);
    # DELETE exists in Clio but is not simulated (a person deletes bills via the admin API).
    writes="partial",
    not_simulated=frozenset({"DELETE"}),
    webhook_model="bill",
)

LINE_ITEMS = Resource(
    name="line_items",
    path="line_items",
    scalars=_names(
        "id etag type description date price taxable kind note secondary_taxable total tax"
        " secondary_tax sub_total quantity group_ordering created_at updated_at"
    ),
    assocs=_assocs(
        bill=Assoc("bills"),
        activity=Assoc("activities"),
        matter=Assoc("matters"),
        user=Assoc("users"),
        discount=_ONE,
        included_line_item_totals=_ONE,
    ),
    writes="partial",
    not_simulated=frozenset({"PATCH", "DELETE"}),
)

WEBHOOKS = Resource(
    name="webhooks",
    path="webhooks",
    scalars=_names(
        "id etag url fields shared_secret model status events expires_at created_at updated_at"
    ),
    assocs=_assocs(user=Assoc("users")),
    writes="rw",
    write_keys=_names("events expires_at fields model url"),
    required_on_create=("url", "model", "fields"),
)

BILLING_SETTINGS = Resource(
    name="billing_settings",
    path="settings/billing",
    scalars=_names(
        "id etag rounded_duration rounding use_decimal_rounding currency currency_sign tax_rate"
        " tax_name apply_tax_by_default apply_secondary_tax_by_default"
        " time_on_flat_rate_contingency_matters_is_non_billable use_secondary_tax"
        " secondary_tax_rate secondary_tax_rule secondary_tax_name notify_after_bill_created"
        " use_utbms_codes created_at updated_at multi_currency_billing billing_currencies"
    ),
    assocs=_assocs(),
)

ALL_RESOURCES: tuple[Resource, ...] = (
    ACTIVITIES,
    ACTIVITY_DESCRIPTIONS,
    USERS,
    CONTACTS,
    ACTIVITY_RATES,
    MATTERS,
    COMMUNICATIONS,
    CALENDAR_ENTRIES,
    TASKS,
    DOCUMENTS,
    NOTES,
    UTBMS_CODES,
    BILLS,
    LINE_ITEMS,
    WEBHOOKS,
    BILLING_SETTINGS,
)

BY_NAME: Mapping[str, Resource] = MappingProxyType({r.name: r for r in ALL_RESOURCES})

# Collections served as /api/v4/<path>.json lists (billing settings is a single record).
LISTED: Mapping[str, Resource] = MappingProxyType(
    {r.path: r for r in ALL_RESOURCES if r is not BILLING_SETTINGS}
)

# docs/vendors/clio.md §3.16: webhook model names and their numeric ids.
WEBHOOK_MODELS: Mapping[str, int] = MappingProxyType(
    {
        "matter": 1,
        "activity": 2,
        "bill": 3,
        "calendar_entry": 4,
        "communication": 5,
        "contact": 6,
        "task": 7,
        "document": 8,
        "folder": 9,
        "clio_payments_payment": 10,
    }
)

MODEL_RESOURCES: Mapping[str, Resource] = MappingProxyType(
    {r.webhook_model: r for r in ALL_RESOURCES if r.webhook_model}
)
