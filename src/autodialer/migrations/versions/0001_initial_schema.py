"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "admin_credentials",
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("login", name=op.f("pk_admin_credentials")),
    )
    op.create_table(
        "api_keys",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), sa.Identity(always=False), nullable=False
        ),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("last_used_at", sa.Float(), nullable=True),
        sa.Column("revoked_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
    )
    op.create_table(
        "attempts",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("task_id", sa.BigInteger(), nullable=False),
        sa.Column("number_id", sa.BigInteger(), nullable=False),
        sa.Column("phone", sa.String(length=64), nullable=False),
        sa.Column("attempt_no", sa.Integer(), nullable=False),
        sa.Column("agent", sa.String(length=128), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=50), nullable=True),
        sa.Column("cause", sa.Integer(), nullable=True),
        sa.Column("cause_text", sa.String(length=100), nullable=True),
        sa.Column("dial_status", sa.String(length=32), nullable=True),
        sa.Column("instance_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("answered_at", sa.Float(), nullable=True),
        sa.Column("ended_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attempts")),
    )
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attempts_ended_at"), ["ended_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_attempts_task_id_number_id"), ["task_id", "number_id"], unique=False)

    op.create_table(
        "audio_files",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), sa.Identity(always=False), nullable=False
        ),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("stored_name", sa.String(length=64), nullable=False),
        sa.Column("original_ext", sa.String(length=16), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audio_files")),
        sa.UniqueConstraint("name", name=op.f("uq_audio_files_name")),
    )
    op.create_table(
        "dnc_numbers",
        sa.Column("phone_id", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("phone_id", name=op.f("pk_dnc_numbers")),
    )
    op.create_table(
        "feed_clocks",
        sa.Column("feed", sa.String(length=32), nullable=False),
        sa.Column("last_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("feed", name=op.f("pk_feed_clocks")),
    )
    op.create_table(
        "login_failures",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), sa.Identity(always=False), nullable=False
        ),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_failures_address_at"), ["address", "at"], unique=False)

    op.create_table(
        "poll_answers",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), sa.Identity(always=False), nullable=False
        ),
        sa.Column("task_id", sa.BigInteger(), nullable=False),
        sa.Column("question_crm_id", sa.String(length=255), nullable=False),
        sa.Column("polling_id", sa.BigInteger(), nullable=False),
        sa.Column("question_id", sa.BigInteger(), nullable=True),
        sa.Column("question_text", sa.Text(), nullable=True),
        sa.Column("phone_id", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=64), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("exten", sa.String(length=16), nullable=True),
        sa.Column("attempt_id", sa.String(length=64), nullable=True),
        sa.Column("change_time_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_poll_answers")),
    )
    with op.batch_alter_table("poll_answers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_poll_answers_change_time_us_id"), ["change_time_us", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_poll_answers_task_id"), ["task_id"], unique=False)

    op.create_table(
        "polls",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), sa.Identity(always=False), nullable=False
        ),
        sa.Column("crm_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.Text(), server_default="", nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("digit_timeout_s", sa.Float(), server_default="5", nullable=False),
        sa.Column("max_repeats", sa.Integer(), server_default="3", nullable=False),
        sa.Column("max_duration_s", sa.Float(), server_default="120", nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_polls")),
        sa.UniqueConstraint("crm_id", name=op.f("uq_polls_crm_id")),
    )
    op.create_table(
        "sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_sessions")),
    )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sessions_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_settings")),
    )
    op.create_table(
        "tasks",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(always=False, start=1000000001),
            nullable=False,
        ),
        sa.Column("crm_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.Text(), server_default="", nullable=False),
        sa.Column("inner_num", sa.String(length=64), server_default="", nullable=False),
        sa.Column("inner_num_type", sa.String(length=16), server_default="exten", nullable=False),
        sa.Column("max_count_channels", sa.Integer(), server_default="1", nullable=False),
        sa.Column("state", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("dial_prefix", sa.String(length=32), server_default="", nullable=False),
        sa.Column("retry_policy", sa.JSON(), nullable=True),
        sa.Column("deleted", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
        sa.UniqueConstraint("crm_id", name=op.f("uq_tasks_crm_id")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "poll_questions",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), sa.Identity(always=False), nullable=False
        ),
        sa.Column("poll_id", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("crm_id", sa.String(length=255), nullable=False),
        sa.Column("question_text", sa.Text(), nullable=True),
        sa.Column("question_file", sa.Text(), nullable=True),
        sa.Column("lang", sa.String(length=16), server_default="ru-RU", nullable=False),
        sa.ForeignKeyConstraint(
            ["poll_id"], ["polls.id"], name=op.f("fk_poll_questions_poll_id_polls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_poll_questions")),
    )
    with op.batch_alter_table("poll_questions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_poll_questions_poll_id_version_position"), ["poll_id", "version", "position"], unique=False
        )

    op.create_table(
        "task_numbers",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), sa.Identity(always=False), nullable=False
        ),
        sa.Column("task_id", sa.BigInteger(), nullable=False),
        sa.Column("phone_id", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=64), nullable=False),
        sa.Column("dial_digits", sa.String(length=32), nullable=False),
        sa.Column("params_json", sa.JSON(), nullable=True),
        sa.Column("params_php", sa.Text(), server_default="", nullable=False),
        sa.Column("linked_id", sa.String(length=64), nullable=True),
        sa.Column("call_file", sa.String(length=300), nullable=True),
        sa.Column("result", sa.String(length=50), server_default="", nullable=False),
        sa.Column("out_dial_state", sa.String(length=32), nullable=True),
        sa.Column("in_dial_state", sa.String(length=32), nullable=True),
        sa.Column("state", sa.String(length=50), server_default="CreateTask", nullable=False),
        sa.Column("verbose_call_id", sa.String(length=50), nullable=True),
        sa.Column("cause", sa.String(length=100), nullable=True),
        sa.Column("change_time_us", sa.BigInteger(), nullable=False),
        sa.Column("count_try", sa.Integer(), nullable=True),
        sa.Column("time_call_allow", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("close_time", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.Float(), server_default="0", nullable=False),
        sa.Column("active_attempt_id", sa.String(length=64), nullable=True),
        sa.Column("pending_delete", sa.Boolean(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_task_numbers_task_id_tasks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_numbers")),
        sa.UniqueConstraint("task_id", "phone_id", name=op.f("uq_task_numbers_task_id_phone_id")),
    )
    with op.batch_alter_table("task_numbers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_numbers_change_time_us_id"), ["change_time_us", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_task_numbers_task_id_close_time_next_attempt_at_id"),
            ["task_id", "close_time", "next_attempt_at", "id"],
            unique=False,
        )

    op.create_table(
        "poll_actions",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), sa.Identity(always=False), nullable=False
        ),
        sa.Column("question_id", sa.BigInteger(), nullable=False),
        sa.Column("poll_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=16), server_default="", nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("value_options", sa.String(length=8), nullable=True),
        sa.Column("next_question", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["poll_questions.id"],
            name=op.f("fk_poll_actions_question_id_poll_questions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_poll_actions")),
    )
    with op.batch_alter_table("poll_actions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_poll_actions_question_id"), ["question_id"], unique=False)

    # MikoPBX numbers tasks from 1000000001 (its worker inserts and deletes id 1000000000 on first start).
    # PostgreSQL gets that from the identity's START; SQLite's AUTOINCREMENT needs its sequence row.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('tasks', 1000000000)")
    feed_clocks = sa.table("feed_clocks", sa.column("feed", sa.String), sa.column("last_us", sa.BigInteger))
    op.bulk_insert(feed_clocks, [{"feed": "results", "last_us": 0}, {"feed": "polling_results", "last_us": 0}])


def downgrade() -> None:
    with op.batch_alter_table("poll_actions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_poll_actions_question_id"))

    op.drop_table("poll_actions")
    with op.batch_alter_table("task_numbers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_numbers_task_id_close_time_next_attempt_at_id"))
        batch_op.drop_index(batch_op.f("ix_task_numbers_change_time_us_id"))

    op.drop_table("task_numbers")
    with op.batch_alter_table("poll_questions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_poll_questions_poll_id_version_position"))

    op.drop_table("poll_questions")
    op.drop_table("tasks")
    op.drop_table("settings")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sessions_expires_at"))

    op.drop_table("sessions")
    op.drop_table("polls")
    with op.batch_alter_table("poll_answers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_poll_answers_task_id"))
        batch_op.drop_index(batch_op.f("ix_poll_answers_change_time_us_id"))

    op.drop_table("poll_answers")
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_failures_address_at"))

    op.drop_table("login_failures")
    op.drop_table("feed_clocks")
    op.drop_table("dnc_numbers")
    op.drop_table("audio_files")
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attempts_task_id_number_id"))
        batch_op.drop_index(batch_op.f("ix_attempts_ended_at"))

    op.drop_table("attempts")
    op.drop_table("api_keys")
    op.drop_table("admin_credentials")
