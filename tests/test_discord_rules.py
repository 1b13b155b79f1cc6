"""Discord's request rules as code: the OpenAPI validator and the documented limits.

Valid bodies are built by discord.py 2.7's own payload builders, so a discord.py upgrade that
changes what goes on the wire shows up here first.
"""

from __future__ import annotations

import copy
import io
import json
import time
from datetime import UTC, datetime
from typing import Any

import discord
import pytest
from discord import app_commands
from discord.http import handle_message_parameters
from discord.webhook.async_ import interaction_message_response_params, interaction_response_params

from tests.fakes.discord.limits import (
    check_allowed_mentions_none,
    check_autocomplete_choices,
    check_command_payload,
    check_message_payload,
    check_modal_payload,
)
from tests.fakes.discord.openapi import OpenAPIValidator
from tests.openapi_spec import locate

SPEC = locate().path
needs_spec = pytest.mark.skipif(SPEC is None, reason=locate().source)
CALLBACK = "/api/v10/interactions/789/aW50ZXJhY3Rpb246Nzg5OnRva2Vu/callback"
WEBHOOK = "/api/v10/webhooks/111/aW50ZXJhY3Rpb24tdG9rZW4"
NONE = discord.AllowedMentions.none()


# --------------------------------------------------------------------------- discord.py bodies


def _embed(index: int = 0) -> discord.Embed:
    embed = discord.Embed(
        title=f"Aria #{index}",
        description="A wandering knight with a silver lance.",
        colour=0x5865F2,
        url="https://example.com/characters/1",
        timestamp=datetime.now(UTC),
    )
    embed.set_image(url="attachment://portrait.png")
    embed.set_thumbnail(url="https://cdn.example.com/thumb.png")
    embed.set_author(name="owner", icon_url="https://cdn.example.com/avatar.png")
    embed.set_footer(text="style: anime", icon_url="https://cdn.example.com/footer.png")
    embed.add_field(name="Age", value="27")
    embed.add_field(name="Personality", value="brave, kind", inline=False)
    return embed


def _view() -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(discord.ui.Button(label="Favorite", custom_id="char:1:fav", emoji="⭐"))
    view.add_item(discord.ui.Button(label="Publish", custom_id="char:1:pub"))
    view.add_item(discord.ui.Button(label="Website", url="https://example.com"))
    options = [discord.SelectOption(label=f"Theme {i}", value=str(i)) for i in range(3)]
    view.add_item(discord.ui.Select(custom_id="char:1:theme", placeholder="Theme", options=options))
    return view


def _files() -> list[discord.File]:
    return [discord.File(io.BytesIO(b"\x89PNG"), filename="portrait.png", description="portrait")]


class _EditModal(discord.ui.Modal, title="Edit character"):
    name: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="Name", custom_id="name", max_length=100
    )
    backstory: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="Backstory", style=discord.TextStyle.paragraph, required=False, max_length=4000
    )


class _VariantModal(discord.ui.Modal, title="New variant"):
    theme: discord.ui.Label[Any] = discord.ui.Label(
        text="Theme", description="Where the variant goes", component=discord.ui.TextInput()
    )
    note: discord.ui.TextDisplay[Any] = discord.ui.TextDisplay("Describe the change.")


def _json(params: Any) -> dict[str, Any]:
    """The JSON body, or the parsed ``payload_json`` part of a multipart request."""
    if params.payload is not None:
        return dict(params.payload)
    return json.loads(params.multipart[0]["value"])


def message_bodies(index: int = 0) -> dict[str, tuple[str, str, dict[str, Any], dict[str, str]]]:
    """name -> (method, path, body, query) as discord.py sends them."""
    respond = {"with_response": "1"}
    reference = discord.MessageReference(message_id=555, channel_id=666, guild_id=777)
    autocomplete = [
        app_commands.Choice(name=f"Aria {i}", value=str(i)).to_dict() for i in range(25)
    ]
    return {
        "defer": ("POST", CALLBACK, interaction_response_params(5).payload, respond),
        "defer_ephemeral": (
            "POST", CALLBACK, interaction_response_params(5, {"flags": 64}).payload, respond
        ),
        "defer_update": ("POST", CALLBACK, interaction_response_params(6).payload, respond),
        "reply_embeds_components_files": ("POST", CALLBACK, _json(
            interaction_message_response_params(
                type=4, content=f"Here is Aria {index}", embeds=[_embed(index)], view=_view(),
                files=_files(), allowed_mentions=NONE, flags=discord.MessageFlags(ephemeral=True),
            )
        ), respond),
        "modal_action_rows": (
            "POST", CALLBACK, interaction_response_params(9, _EditModal().to_dict()).payload,
            respond,
        ),
        "modal_label": (
            "POST", CALLBACK, interaction_response_params(9, _VariantModal().to_dict()).payload,
            respond,
        ),
        "autocomplete": (
            "POST", CALLBACK,
            interaction_response_params(8, {"choices": autocomplete}).payload, respond,
        ),
        "update_message": ("POST", CALLBACK, _json(
            interaction_message_response_params(
                type=7, content="Favorited", embed=_embed(index), view=_view(), attachments=[],
                allowed_mentions=NONE,
            )
        ), respond),
        "followup_with_files": ("POST", WEBHOOK, _json(
            handle_message_parameters(
                content="Done", embed=_embed(index), files=_files(), view=_view(),
                allowed_mentions=NONE, previous_allowed_mentions=NONE,
            )
        ), {"wait": "1", "with_components": "1"}),
        "edit_original": ("PATCH", f"{WEBHOOK}/messages/@original", _json(
            handle_message_parameters(
                content=None, embeds=[_embed(index)], attachments=_files(), view=_view(),
                allowed_mentions=NONE,
            )
        ), {"with_components": "1"}),
        "edit_followup": ("PATCH", f"{WEBHOOK}/messages/999", _json(
            handle_message_parameters(content="edited", allowed_mentions=NONE, view=None)
        ), {"with_components": "0"}),
        "channel_message_reply": ("POST", "/api/v10/channels/123/messages", _json(
            handle_message_parameters(
                content="New character", embed=_embed(index), files=_files(), view=_view(),
                message_reference=reference.to_dict(), allowed_mentions=NONE, mention_author=False,
            )
        ), {}),
        "start_thread": (
            "POST", "/api/v10/channels/123/messages/456/threads",
            {"name": f"Aria {index}", "auto_archive_duration": 1440, "rate_limit_per_user": None},
            {},
        ),
    }  # fmt: skip


class _Translator(app_commands.Translator):
    """zh-CN / ja / ko strings: lowercase ``name_xx`` for names, suffixed descriptions."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContext[Any, Any],
    ) -> str | None:
        if locale not in (discord.Locale.chinese, discord.Locale.japanese, discord.Locale.korean):
            return None
        if context.location.name.endswith("_name") and context.location.name != "choice_name":
            return f"{string.message}_{locale.value[:2]}"
        return f"{string.message} ({locale.value})"


def _tree() -> app_commands.CommandTree[discord.Client]:
    tree = app_commands.CommandTree(discord.Client(intents=discord.Intents.none()))
    character = app_commands.Group(name="character", description="Create and manage characters")
    styles = [app_commands.Choice(name=s.title(), value=s) for s in ("realistic", "anime")]

    @character.command(name="create", description="Create a character")
    @app_commands.describe(description="What the character looks like")
    @app_commands.choices(style=styles)
    async def create(
        interaction: discord.Interaction,
        description: app_commands.Range[str, 1, 1000],
        name: str | None = None,
        style: str = "realistic",
        age: app_commands.Range[int, 1, 10000] | None = None,
        reference: discord.Attachment | None = None,
    ) -> None: ...

    @character.command(name="show", description="Show a character")
    async def show(interaction: discord.Interaction, character: str) -> None: ...

    @show.autocomplete("character")
    async def _complete(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return []

    admin = app_commands.Group(name="admin", description="Admin", parent=character)

    @admin.command(name="purge", description="Purge a member's characters")
    async def purge(interaction: discord.Interaction, member: discord.Member) -> None: ...

    @app_commands.command(name="quota", description="Generations left today")
    @app_commands.default_permissions(manage_messages=True)
    @app_commands.allowed_contexts(guilds=True, dms=False, private_channels=False)
    @app_commands.allowed_installs(guilds=True, users=False)
    async def quota(interaction: discord.Interaction) -> None: ...

    @app_commands.context_menu(name="Show characters")
    async def menu(interaction: discord.Interaction, member: discord.Member) -> None: ...

    tree.add_command(character)
    tree.add_command(quota)
    tree.add_command(menu)
    return tree


async def command_payloads() -> list[dict[str, Any]]:
    """What ``CommandTree.sync`` PUTs with a translator set."""
    tree = _tree()
    translator = _Translator()
    commands = [*tree.get_commands(), *tree.get_commands(type=discord.AppCommandType.user)]
    return [await c.get_translated_payload(tree, translator) for c in commands]


# --------------------------------------------------------------------------- OpenAPI


@pytest.fixture(scope="module")
def validator() -> OpenAPIValidator:
    if SPEC is None:
        pytest.skip(locate().source)
    return OpenAPIValidator(SPEC)


@needs_spec
@pytest.mark.parametrize("case", sorted(message_bodies()))
def test_discordpy_message_bodies_are_valid(validator: OpenAPIValidator, case: str) -> None:
    """Every typical body discord.py builds for the bot's calls passes the spec."""
    method, path, body, query = message_bodies()[case]
    assert validator.validate(method, path, body, query=query) == []


@needs_spec
async def test_discordpy_command_sync_is_valid(validator: OpenAPIValidator) -> None:
    """The bulk PUT of commands (localised, options, choices, permissions) passes the spec."""
    payload = await command_payloads()
    assert any("name_localizations" in c for c in payload)
    for path in ("/api/v10/applications/1/commands", "/api/v10/applications/1/guilds/2/commands"):
        assert validator.validate("PUT", path, payload) == []


@needs_spec
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v10/users/@me"),
        ("GET", "/api/v10/oauth2/applications/@me"),
        ("GET", "/api/v10/gateway/bot"),
        ("DELETE", f"{WEBHOOK}/messages/@original"),
        ("GET", "/channels/123/messages/456"),
    ],
)
def test_bodyless_requests_are_valid(validator: OpenAPIValidator, method: str, path: str) -> None:
    """Requests without a body on real routes (with or without /api/v10) pass."""
    assert validator.validate(method, path, None) == []


@needs_spec
def test_literal_segment_beats_parameter(validator: OpenAPIValidator) -> None:
    """``@original`` matches its own template, not ``{message_id}``."""
    body = {"content": "x" * 2001}
    [original] = validator.validate("PATCH", f"{WEBHOOK}/messages/@original", body)
    [by_id] = validator.validate("PATCH", f"{WEBHOOK}/messages/42", body)
    assert original.startswith("PATCH /webhooks/{webhook_id}/{webhook_token}/messages/@original:")
    assert by_id.startswith("PATCH /webhooks/{webhook_id}/{webhook_token}/messages/{message_id}:")
    assert "body.content" in original


@needs_spec
def test_unknown_path_and_method_are_violations(validator: OpenAPIValidator) -> None:
    """A path the API lacks, or a method the path lacks, is itself a violation."""
    assert "no such path" in validator.validate("GET", "/api/v10/nope/1", None)[0]
    assert "method not allowed" in validator.validate("PUT", "/channels/1/messages", {})[0]


@needs_spec
def test_path_and_query_parameters_are_checked(validator: OpenAPIValidator) -> None:
    """Non-snowflake ids, mistyped and unknown query parameters are reported."""
    [bad_id] = validator.validate("GET", "/channels/abc/messages/1", None)
    assert "path.channel_id" in bad_id
    [bad_bool] = validator.validate("POST", CALLBACK, {"type": 5}, query={"with_response": "x"})
    assert "query.with_response" in bad_bool
    [unknown] = validator.validate("POST", f"{CALLBACK}?foo=1", {"type": 5})
    assert "query.foo: unknown query parameter" in unknown


@needs_spec
@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        (
            CALLBACK,
            {"type": 4, "data": {"embeds": [{"title": "t" * 257}]}},
            "body.data.embeds[0].title",
        ),
        (CALLBACK, {"type": 99}, "body.type"),
        (
            CALLBACK,
            {"type": 9, "data": {"title": "t", "custom_id": "c", "components": []}},
            "body.data.components",
        ),
        (
            CALLBACK,
            {
                "type": 4,
                "data": {
                    "components": [
                        {"type": 1, "components": [{"type": 2, "style": 1, "custom_id": "c" * 101}]}
                    ]
                },
            },
            "body.data.components[0].components[0].custom_id",
        ),
        (
            CALLBACK,
            {"type": 4, "data": {"embeds": [{"url": "not a url"}]}},
            "body.data.embeds[0].url",
        ),
        (
            CALLBACK,
            {"type": 4, "data": {"embeds": [{"timestamp": "2024-01-01 10:00"}]}},
            "body.data.embeds[0].timestamp",
        ),
        (
            CALLBACK,
            {"type": 8, "data": {"choices": [{"name": "", "value": "v"}]}},
            "choices[0].name",
        ),
        (
            "/channels/1/messages",
            {"message_reference": {"message_id": "x1"}},
            "body.message_reference.message_id",
        ),
        ("/channels/1/messages", {"sticker_ids": [1]}, "body.sticker_ids[0]"),
        ("/channels/1/messages", {"attachments": [{"id": -1}]}, "body.attachments[0].id"),
    ],
)
def test_spec_violations_name_the_field(
    validator: OpenAPIValidator, path: str, body: dict[str, Any], expected: str
) -> None:
    """A body breaking the spec yields a violation naming the offending field."""
    violations = validator.validate("POST", path, body)
    assert any(expected in v for v in violations), violations


@needs_spec
async def test_command_violations_name_the_field(validator: OpenAPIValidator) -> None:
    """A command name longer than 32 characters in the bulk PUT is located precisely."""
    payload = await command_payloads()
    payload[1]["name"] = "q" * 33
    violations = validator.validate("PUT", "/applications/1/commands", payload)
    assert any("body[1].name" in v for v in violations), violations


@needs_spec
def test_missing_required_body_is_a_violation(validator: OpenAPIValidator) -> None:
    """A route whose requestBody is required rejects an absent body."""
    assert "body is required" in validator.validate("POST", "/channels/1/messages", None)[0]


@needs_spec
def test_average_validation_cost(validator: OpenAPIValidator, capsys: Any) -> None:
    """Validating ~2,000 typical bodies stays cheap (reports the average, asserts none)."""
    cases = [c for i in range(160) for c in message_bodies(i).values()]
    started = time.perf_counter()
    for method, path, body, query in cases:
        assert validator.validate(method, path, body, query=query) == []
    average = (time.perf_counter() - started) / len(cases)
    with capsys.disabled():
        print(f"\nOpenAPI validation: {len(cases)} bodies, {average * 1000:.3f} ms per call")


# --------------------------------------------------------------------------- limits


def _message(**changes: Any) -> dict[str, Any]:
    body = _json(
        handle_message_parameters(
            content="Hello", embeds=[_embed()], view=_view(), allowed_mentions=NONE
        )
    )
    body.update(changes)
    return body


def _row(*components: dict[str, Any]) -> dict[str, Any]:
    return {"type": 1, "components": list(components)}


def _button(custom_id: str = "b", **extra: Any) -> dict[str, Any]:
    return {"type": 2, "style": 1, "label": "B", "custom_id": custom_id, **extra}


def _select(options: int = 1, **extra: Any) -> dict[str, Any]:
    opts = [{"label": str(i), "value": str(i)} for i in range(options)]
    return {"type": 3, "custom_id": "s", "options": opts, **extra}


def test_discordpy_messages_pass_limits() -> None:
    """discord.py-built message bodies (callback data, followups, posts) break no limit."""
    for method, _, body, _ in message_bodies().values():
        data = body.get("data") if "type" in body else body
        if method != "POST" or "name" in body or not isinstance(data, dict) or "title" in data:
            continue
        assert check_message_payload(data) == []
        assert check_allowed_mentions_none(data) == []


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (_message(content="x" * 2001), "content: 2001 characters, limit 2000"),
        (_message(embeds=[{"title": "t"}] * 11), "embeds: 11 embeds"),
        (_message(embeds=[{"title": "t" * 257}]), "embeds[0].title"),
        (_message(embeds=[{"description": "d" * 4097}]), "embeds[0].description"),
        (
            _message(embeds=[{"fields": [{"name": "n", "value": "v"}] * 26}]),
            "embeds[0].fields: 26 fields",
        ),
        (
            _message(embeds=[{"fields": [{"name": "n" * 257, "value": "v"}]}]),
            "embeds[0].fields[0].name",
        ),
        (
            _message(embeds=[{"fields": [{"name": "n", "value": "v" * 1025}]}]),
            "embeds[0].fields[0].value",
        ),
        (_message(embeds=[{"footer": {"text": "f" * 2049}}]), "embeds[0].footer.text"),
        (_message(embeds=[{"author": {"name": "a" * 257}}]), "embeds[0].author.name"),
        (
            _message(embeds=[{"description": "d" * 4000}, {"description": "d" * 2001}]),
            "in all embeds, limit 6000",
        ),
        (_message(components=[_row(_button(f"b{i}")) for i in range(6)]), "6 action rows"),
        (_message(components=[_row(*[_button(f"b{i}") for i in range(6)])]), "6 buttons"),
        (_message(components=[_row(_select(), _button())]), "must be alone"),
        (_message(components=[_row(_button("c" * 101))]), "custom_id: 101 characters"),
        (_message(components=[_row(_button(""))]), "custom_id: 0 characters"),
        (_message(components=[_row(_button(label="l" * 81))]), "label: 81 characters"),
        (_message(components=[_row(_select(26))]), "options: 26 options"),
        (_message(components=[_row(_select(placeholder="p" * 151))]), "placeholder: 151"),
        (_message(components=[_row({"type": 2, "style": 5, "label": "L"})]), "needs a url"),
        (_message(components=[_row({"type": 2, "style": 1, "label": "L"})]), "custom_id: missing"),
        (_message(components=[_row(_button("a"), _button("a"))]), "not unique"),
        (_message(components=[_button()]), "must be an action row"),
    ],
)
def test_message_limit_violations(payload: dict[str, Any], expected: str) -> None:
    """Each documented message/embed/component limit produces a violation naming it."""
    violations = check_message_payload(payload)
    assert any(expected in v for v in violations), violations


def _modal(**changes: Any) -> dict[str, Any]:
    data = _EditModal().to_dict()
    data.update(changes)
    return data


def _text_input(**changes: Any) -> dict[str, Any]:
    data = _modal()
    data["components"][0]["components"][0].update(changes)
    return data


def test_discordpy_modals_pass_limits() -> None:
    """Modals built by discord.py (action rows, and Label + TextDisplay) break no limit."""
    assert check_modal_payload(_EditModal().to_dict()) == []
    assert check_modal_payload(_VariantModal().to_dict()) == []


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (_modal(title="t" * 46), "title: 46 characters"),
        (_modal(custom_id="c" * 101), "custom_id: 101 characters"),
        (_modal(components=[]), "0 components, must be 1..5"),
        (_modal(components=_modal()["components"] * 3), "6 components, must be 1..5"),
        (_text_input(label="l" * 46), "label: 46 characters"),
        (_text_input(min_length=4001), "min_length: 4001"),
        (_text_input(max_length=4001), "max_length: 4001"),
        (_text_input(max_length=None, value="v" * 4001), "value: 4001 characters"),
        (_text_input(placeholder="p" * 101), "placeholder: 101 characters"),
        (_text_input(min_length=10, max_length=5), "greater than max_length"),
    ],
)
def test_modal_limit_violations(payload: dict[str, Any], expected: str) -> None:
    """Each documented modal/text-input limit produces a violation naming it."""
    violations = check_modal_payload(payload)
    assert any(expected in v for v in violations), violations


def test_autocomplete_limits() -> None:
    """25 discord.py choices pass; 26, empty/long names and long values are reported."""
    choices = [app_commands.Choice(name=f"c{i}", value=str(i)).to_dict() for i in range(25)]
    assert check_autocomplete_choices(choices) == []
    assert "26 choices" in check_autocomplete_choices([*choices, choices[0]])[0]
    assert "choices[0].name" in check_autocomplete_choices([{"name": "", "value": "v"}])[0]
    assert "choices[0].name" in check_autocomplete_choices([{"name": "n" * 101, "value": "v"}])[0]
    assert "choices[0].value" in check_autocomplete_choices([{"name": "n", "value": "v" * 101}])[0]


async def test_discordpy_commands_pass_limits() -> None:
    """Every command discord.py syncs (localised, nested, context menu) breaks no limit."""
    for command in await command_payloads():
        assert check_command_payload(command) == [], command["name"]


def _opt(name: str, kind: int = 3, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "name": name, "description": "d", **extra}


def _command(**changes: Any) -> dict[str, Any]:
    return {"type": 1, "name": "cmd", "description": "d", "options": [], **changes}


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (_command(name="Create"), "name: 'Create' must be lowercase"),
        (_command(name="two words"), "must match"),
        (_command(name="c" * 33), "must match"),
        (_command(name_localizations={"ja": "Gross"}), "name_localizations.ja"),
        (_command(description=""), "description: 0 characters"),
        (_command(description="d" * 101), "description: 101 characters"),
        (_command(description_localizations={"ko": "d" * 101}), "description_localizations.ko"),
        (_command(options=[_opt(f"o{i}") for i in range(26)]), "26 options"),
        (_command(options=[_opt("o", choices=[{"name": "c", "value": "v"}] * 26)]), "26 choices"),
        (
            _command(options=[_opt("o", choices=[{"name": "c" * 101, "value": "v"}])]),
            "choices[0].name",
        ),
        (
            _command(options=[_opt("o", choices=[{"name": "c", "value": "v" * 101}])]),
            "choices[0].value",
        ),
        (_command(options=[_opt("sub", 1), _opt("o")]), "cannot be mixed"),
        (_command(options=[_opt("g", 2, options=[_opt("o")])]), "may only contain subcommands"),
        (_command(options=[_opt("s", 1, options=[_opt("g", 2, options=[])])]), "nested this deep"),
        (
            _command(options=[_opt("a"), _opt("b", required=True)]),
            "required options must come before",
        ),
        (_command(options=[_opt("a"), _opt("a")]), "used twice"),
    ],
)
def test_command_limit_violations(command: dict[str, Any], expected: str) -> None:
    """Each documented command naming/option/nesting rule produces a violation naming it."""
    violations = check_command_payload(command)
    assert any(expected in v for v in violations), violations


@pytest.mark.parametrize(
    ("mentions", "expected"),
    [
        (None, "allowed_mentions: missing"),
        ({}, "parse: missing"),
        (discord.AllowedMentions.all().to_dict(), "must be []"),
        ({"parse": [], "users": [1]}, "allowed_mentions.users"),
        ({"parse": [], "roles": ["2"]}, "allowed_mentions.roles"),
        ({"parse": [], "replied_user": True}, "replied_user"),
    ],
)
def test_allowed_mentions_must_ping_nobody(mentions: dict[str, Any] | None, expected: str) -> None:
    """Content that could ping someone is reported; ``AllowedMentions.none()`` is not."""
    payload = {"content": "hi <@1>"} | ({} if mentions is None else {"allowed_mentions": mentions})
    violations = check_allowed_mentions_none(payload)
    assert any(expected in v for v in violations), violations
    assert check_allowed_mentions_none({"content": "hi", "allowed_mentions": NONE.to_dict()}) == []
    assert check_allowed_mentions_none({"embeds": []}) == []


def test_limit_checks_do_not_mutate_payloads() -> None:
    """The checks are pure: the payload is unchanged after checking."""
    payload = _message()
    before = copy.deepcopy(payload)
    check_message_payload(payload)
    check_allowed_mentions_none(payload)
    assert payload == before
