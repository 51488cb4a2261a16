"""The relational schema, shared by SQLite (embedded default) and PostgreSQL (several instances).

SQLAlchemy Core tables; Alembic migrations in src/autodialer/migrations build exactly this from an empty database.
Conventions:
- Times are epoch seconds as floats (created_at …) except the feed clocks below, which are integer microseconds.
- ``change_time_us`` on task_numbers and poll_answers is allocated from ``feed_clocks`` inside the writing
  transaction: strictly increasing, unique per feed, in commit order (the clock row is locked until commit; a new
  task's numbers on PostgreSQL lock it only at the end, see feed_clock.reserve), so a reader of
  ``/results/{changeTime}`` that keeps the largest value it has seen can never miss or loop on rows.
- Wire values (MikoPBX strings, PHP-serialized params) are rendered by the API layer, not stored pre-rendered, except
  ``params_php`` which is kept exactly as the original serves it.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    case,
    literal_column,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# First task id, as MikoPBX installs number them (ConnectorDB inserts and deletes 1000000000 on start).
FIRST_TASK_ID = 1_000_000_001

# BigInteger that is still an auto-incrementing INTEGER PRIMARY KEY on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")

tasks = Table(
    "tasks",
    metadata,
    Column("id", BigId, Identity(start=FIRST_TASK_ID), primary_key=True),
    Column("crm_id", String(255), nullable=False, unique=True),
    Column("name", Text, nullable=False, server_default=""),
    Column("inner_num", String(64), nullable=False, server_default=""),
    Column("inner_num_type", String(16), nullable=False, server_default="exten"),
    Column("max_count_channels", Integer, nullable=False, server_default="1"),
    Column("state", SmallInteger, nullable=False, server_default="0"),  # 0 open, 1 closed, 2 paused
    # State 1 set by the dialer because every number was final (MikoPBX's auto-close), not by the CRM (0004).
    Column("closed_by_dialer", Boolean, nullable=False, server_default="0"),
    Column("dial_prefix", String(32), nullable=False, server_default=""),
    # Our extensions (old clients omit them): per-task retry overrides, JSON object or NULL for the settings' policy.
    Column("retry_policy", JSON, nullable=True),
    # The campaign's schedule (0011; NULL/empty: the global AUTODIALER_CALL_WINDOW, as for every v1 task): hours in
    # the callee's local time (domain/call_hours.py's format), excluded dates, absolute start and end, default zone.
    Column("call_hours", Text, nullable=True),
    Column("excluded_dates", Text, nullable=False, server_default=""),
    Column("starts_at", Float, nullable=True),
    Column("ends_at", Float, nullable=True),
    Column("default_zone", String(64), nullable=True),
    Column("attempt_limits", JSON, nullable=True),  # {max_per_day, max_total, min_gap_s, max_per_day_all_campaigns}
    # Pacing settings (domain/pacing_config.py), JSON object or NULL for progressive, every v1 task's (0012).
    Column("pacing", JSON, nullable=True),
    # Soft delete: a deleted task disappears from the API at once; its rows in a live call are purged when it ends.
    Column("deleted", Boolean, nullable=False, server_default="0"),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    sqlite_autoincrement=True,
)

task_numbers = Table(
    "task_numbers",  # MikoPBX m_TaskResults: one row per number per task
    metadata,
    Column("id", BigId, Identity(), primary_key=True),
    Column("task_id", BigInteger, ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False),
    Column("phone_id", String(64), nullable=False),  # last 10 digits (MikoPBX getPhoneIndex)
    Column("phone", String(64), nullable=False),  # as sent
    Column("dial_digits", String(32), nullable=False),  # what we dial, before the prefix
    Column("params_json", JSON, nullable=True),  # the number's params object, for <key> substitution
    Column("params_php", Text, nullable=False, server_default=""),  # the wire form: "" | s:0:""; | a:1:{…}
    Column("linked_id", String(64), nullable=True),
    Column("call_file", String(300), nullable=True),
    Column("result", String(50), nullable=False, server_default=""),
    Column("out_dial_state", String(32), nullable=True),
    Column("in_dial_state", String(32), nullable=True),
    Column("state", String(50), nullable=False, server_default="CreateTask"),
    Column("verbose_call_id", String(50), nullable=True),
    Column("cause", String(100), nullable=True),
    Column("change_time_us", BigInteger, nullable=False),
    Column("count_try", Integer, nullable=True),
    Column("requeues", Integer, nullable=False, server_default="0"),  # attempts ended "every employee busy" (0002)
    Column("time_call_allow", BigInteger, nullable=False, server_default="0"),
    Column("close_time", BigInteger, nullable=False, server_default="0"),
    # Scheduling (ours): not before this epoch second (retries); the attempt in progress, if any.
    Column("next_attempt_at", Float, nullable=False, server_default="0"),
    Column("active_attempt_id", String(64), nullable=True),
    # Removed by a re-POST or DELETE while in a call: deleted when that call ends (never under a live call).
    Column("pending_delete", Boolean, nullable=False, server_default="0"),
    UniqueConstraint("task_id", "phone_id"),
    Index(None, "change_time_us", "id"),
    Index(None, "phone_id"),  # do-not-call look-ups across tasks
    Index(None, "task_id", "id"),  # GET /task/{id}: a task's rows in pages, by id (0008)
    # A campaign's numbers counted by state and result from the index alone, not its rows (0015, issue 11).
    Index("ix_task_numbers_counts", "task_id", "state", "result", "pending_delete"),
)

# The dialer's questions about a task cost O(what they return), not O(its numbers) (issue 11): "is any number
# open", "the lowest-id open numbers that are due" and "when is the next one due" read two partial indexes over
# the open rows only (result ''), the second on the due time itself. Queries must spell the predicate and the
# expression exactly like this (a literal '', the same CASE) for SQLite and PostgreSQL to use them.
NUMBER_IS_OPEN = task_numbers.c.result == literal_column("''")
# The open-rows index is keyed on task_id + 0 so that the full (task_id, id) index of 0008 cannot stand in for it
# (SQLite without statistics took that one and walked every closed row); queries say NUMBER_TASK_KEY == task.
# A literal 0: a bound parameter would not match the index's expression.
NUMBER_TASK_KEY: ColumnElement[int] = task_numbers.c.task_id + literal_column("0")


def number_of_task(task: object) -> ColumnElement[bool]:
    """``task_id + 0 = task`` (an id) or ``task_id + 0 = task + 0`` (a correlated column such as ``tasks.id``): the
    rows of one task, by the open-rows index's key.

    A correlated column is given a ``+ 0`` of its own: SQLite (3.40, no statistics) does not match the index's
    expression against ``task_id + 0 = tasks.id`` and instead scanned all of ix_task_numbers_open_due (in task id
    order) for each task's "any number open", so a paused 750,000-number task cost every open-task read ~1.4 s
    (issue 11). With an expression on both sides it seeks ix_task_numbers_open_by_id."""
    key = NUMBER_TASK_KEY  # a lower-case name: ruff's yoda rule would swap "NUMBER_TASK_KEY == task" into a bool
    if isinstance(task, ColumnElement):
        return key == task + literal_column("0")
    return key == task


NUMBER_DUE_AT = case(  # max(timeCallAllow, next_attempt_at)
    (task_numbers.c.time_call_allow > task_numbers.c.next_attempt_at, task_numbers.c.time_call_allow),
    else_=task_numbers.c.next_attempt_at,
)
Index(
    "ix_task_numbers_open_by_id",
    NUMBER_TASK_KEY,
    task_numbers.c.id,
    sqlite_where=NUMBER_IS_OPEN,
    postgresql_where=NUMBER_IS_OPEN,
)
Index(
    "ix_task_numbers_open_due",
    task_numbers.c.task_id,
    NUMBER_DUE_AT,
    sqlite_where=NUMBER_IS_OPEN,
    postgresql_where=NUMBER_IS_OPEN,
)

attempts = Table(
    "attempts",  # every dial attempt, kept forever: the history behind countTry and retries
    metadata,
    Column("id", String(64), primary_key=True),  # our call id: Originate ChannelId, Asterisk Uniqueid/Linkedid
    Column("task_id", BigInteger, nullable=False),
    Column("number_id", BigInteger, nullable=False),
    Column("phone", String(64), nullable=False),
    Column("attempt_no", Integer, nullable=False),
    Column("mode", String(16), nullable=False, server_default="connect"),  # connect | poll, at start (0002)
    Column("inner_num", String(64), nullable=False, server_default=""),  # the task's inner number at start (0002)
    Column("agent", String(128), nullable=True),  # the reserved device, e.g. PJSIP/201
    Column("state", String(32), nullable=False),  # created, sending, originated, answered, talking, ended
    Column("outcome", String(50), nullable=True),  # MikoPBX result or a retryable customer outcome
    Column("cause", Integer, nullable=True),
    Column("cause_text", String(100), nullable=True),
    Column("dial_status", String(32), nullable=True),
    Column("instance_id", String(64), nullable=True),  # which service instance placed it
    Column("created_at", Float, nullable=False),
    Column("answered_at", Float, nullable=True),
    Column("ended_at", Float, nullable=True),
    # The number's do-not-call key (E.164, else its digits), for caps across campaigns (0011)
    Column("callee", String(64), nullable=True),
    Index(None, "task_id", "number_id"),
    Index(None, "ended_at"),
    Index(None, "callee", "created_at"),
)

polls = Table(
    "polls",  # MikoPBX Polling
    metadata,
    Column("id", BigId, Identity(), primary_key=True),
    Column("crm_id", String(255), nullable=False, unique=True),
    Column("name", Text, nullable=False, server_default=""),
    Column("version", Integer, nullable=False, server_default="1"),  # bumped by every re-POST
    Column("digit_timeout_s", Float, nullable=False, server_default="5"),
    Column("max_repeats", Integer, nullable=False, server_default="3"),
    Column("max_duration_s", Float, nullable=False, server_default="120"),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

poll_questions = Table(
    "poll_questions",  # MikoPBX Question; rows of old versions stay, answers point at them
    metadata,
    Column("id", BigId, Identity(), primary_key=True),
    Column("poll_id", BigInteger, ForeignKey("polls.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("position", Integer, nullable=False),
    Column("crm_id", String(255), nullable=False),  # the client's questionId
    Column("question_text", Text, nullable=True),
    Column("question_file", Text, nullable=True),
    Column("lang", String(16), nullable=False, server_default="ru-RU"),
    Index(None, "poll_id", "version", "position"),
)

poll_actions = Table(
    "poll_actions",  # MikoPBX QuestionActions
    metadata,
    Column("id", BigId, Identity(), primary_key=True),
    Column("question_id", BigInteger, ForeignKey("poll_questions.id", ondelete="CASCADE"), nullable=False),
    Column("poll_id", BigInteger, nullable=False),
    Column("position", Integer, nullable=False),
    Column("key", String(16), nullable=False),  # 0-9 * #, or our pseudo-keys timeout / invalid
    Column("action", String(16), nullable=False, server_default=""),  # "" answer dial playback optout
    Column("value", Text, nullable=True),
    Column("value_options", String(8), nullable=True),  # text | file
    Column("next_question", String(255), nullable=True),
    Index(None, "question_id"),
)

poll_answers = Table(
    "poll_answers",  # MikoPBX PolingResults: one row per key press, never updated
    metadata,
    Column("id", BigId, Identity(), primary_key=True),
    Column("task_id", BigInteger, nullable=False),
    Column("question_crm_id", String(255), nullable=False),
    Column("polling_id", BigInteger, nullable=False),
    Column("question_id", BigInteger, nullable=True),  # the versioned question row it was given under
    Column("question_text", Text, nullable=True),  # the text as asked (after params substitution)
    Column("phone_id", String(64), nullable=False),
    Column("phone", String(64), nullable=False),
    Column("result", Text, nullable=True),
    Column("exten", String(16), nullable=True),
    Column("attempt_id", String(64), nullable=True),
    Column("change_time_us", BigInteger, nullable=False),
    Index(None, "change_time_us", "id"),
    Index(None, "task_id"),
    Index(None, "task_id", "id"),  # GET /task/{id}: a task's answers in pages, by id (0008)
)

feed_clocks = Table(
    "feed_clocks",  # one row per feed ("results", "polling_results"): the last change_time_us handed out
    metadata,
    Column("feed", String(32), primary_key=True),
    Column("last_us", BigInteger, nullable=False),
)

audio_files = Table(
    "audio_files",  # MikoPBX AudioFiles: the uploaded name is the identity
    metadata,
    Column("id", BigId, Identity(), primary_key=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("stored_name", String(64), nullable=False),  # <hex>, files <hex>.wav / <hex>.mp3 / original in audio_dir
    Column("original_ext", String(16), nullable=False),
    Column("content_type", String(64), nullable=True),
    Column("duration_s", Float, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

dnc_numbers = Table(
    "dnc_numbers",  # the global do-not-call list (0009: keyed by E.164)
    metadata,
    # E.164 (+79522233446); a number without one (an internal short number) by its digits, which never start with +
    Column("e164", String(64), primary_key=True),
    Column("phone_id", String(64), nullable=False),  # task_numbers' key: the SQL's coarse prefilter only
    Column("phone", String(64), nullable=False),  # as first listed
    Column("source", String(64), nullable=False),  # api, poll:<innerNum>, …
    Column("note", String(200), nullable=False, server_default=""),  # 0011
    Column("created_at", Float, nullable=False),
    Index(None, "phone_id"),
)

dnc_campaign_numbers = Table(
    "dnc_campaign_numbers",  # one do-not-call list per campaign (0011), keyed like the global one
    metadata,
    Column("task_id", BigInteger, ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("e164", String(64), primary_key=True),
    Column("phone_id", String(64), nullable=False),
    Column("phone", String(64), nullable=False),
    Column("source", String(64), nullable=False),
    Column("note", String(200), nullable=False, server_default=""),
    Column("created_at", Float, nullable=False),
    Index(None, "phone_id"),
)

settings_kv = Table(
    "settings",  # runtime settings a client or admin may change (defDialPrefix, PBX time zone, retry policy …)
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", JSON, nullable=False),
    Column("updated_at", Float, nullable=False),
)

admin_credentials = Table(
    "admin_credentials",
    metadata,
    Column("login", String(64), primary_key=True),
    Column("password_hash", String(255), nullable=False),  # scrypt, self-describing string
    # Access tokens carry the generation they were issued under; ending all sessions bumps it (0005).
    Column("token_generation", Integer, nullable=False, server_default="0"),
    Column("updated_at", Float, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", BigId, Identity(), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("prefix", String(16), nullable=False, unique=True),  # shown in listings, looks the key up
    Column("key_hash", String(255), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("last_used_at", Float, nullable=True),
    Column("revoked_at", Float, nullable=True),
    # domain.api_scopes: "read" (GET, HEAD, OPTIONS only) or "write" (everything); migration 0013 made older keys write
    Column("scope", String(8), nullable=False, server_default="write"),
)

sessions = Table(
    "sessions",  # PHPSESSID sessions, shared by every instance
    metadata,
    Column("id_hash", String(64), primary_key=True),  # sha256 of the cookie value; the value itself is not stored
    Column("login", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index(None, "expires_at"),
)

login_failures = Table(
    "login_failures",  # failed logins only (MikoPBX also counted successes and locked 1C out)
    metadata,
    Column("id", BigId, Identity(), primary_key=True),
    Column("address", String(64), nullable=False),
    Column("at", Float, nullable=False),
    Index(None, "address", "at"),
)

idempotency_keys = Table(
    "idempotency_keys",  # v2 POSTs with an Idempotency-Key: the first answer, replayed to a retry (0005)
    metadata,
    Column("owner", String(200), primary_key=True),  # who sent it (principal kind:name): keys are per client
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),  # sha256 of method, path and body
    Column("status", Integer, nullable=True),  # null while the first request runs
    Column("content_type", String(100), nullable=True),
    Column("location", String(300), nullable=True),
    Column("body", LargeBinary, nullable=True),
    Column("created_at", Float, nullable=False),
    Index(None, "created_at"),
)
