"""Interaction callbacks and the interaction webhook (followups, @original), with Discord's rules:
3 s to the first callback, one callback only, a 15-minute token."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from .everywhere import ChannelWebhooks
from .interactions import (
    ACK_DEADLINE,
    ALLOWED_CALLBACKS,
    APPLICATION_COMMAND,
    TOKEN_LIFETIME,
    FakeInteraction,
)
from .messages import DiscordHTTPError, invalid_form
from .rest import ARRIVED_KEY, body_dict, files_of, json_response, no_content
from .state import FLAG_EPHEMERAL, FLAG_LOADING

if TYPE_CHECKING:
    from .server import FakeDiscord


class Webhooks:
    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake

    def routes(self) -> list[tuple[str, str, Any]]:
        msg = "/webhooks/{app_id}/{token}/messages/{message_id}"
        return [
            ("POST", "/interactions/{interaction_id}/{token}/callback", self.callback),
            ("POST", "/webhooks/{app_id}/{token}", self.followup),
            ("GET", msg, self.get_message),
            ("PATCH", msg, self.edit_message),
            ("DELETE", msg, self.delete_message),
        ]

    # -- helpers ---------------------------------------------------------------------------
    def _reject(
        self, ix: FakeInteraction | None, request: web.Request, error: DiscordHTTPError
    ) -> DiscordHTTPError:
        if ix is not None:
            ix.rejected.append({"status": error.status, "code": error.code, "route": request.path})
        return error

    def _interaction_for_webhook(self, request: web.Request) -> FakeInteraction:
        fake = self.fake
        ix = fake.interactions_by_token.get(request.match_info["token"])
        if ix is None or request.match_info["app_id"] != fake.application_id:
            raise DiscordHTTPError(404, 10015, "Unknown Webhook")
        if ix.age > TOKEN_LIFETIME:
            fake.violations.append(
                f"interaction {ix.id}: webhook call after the 15-minute token expired "
                f"({request.method} {request.path})"
            )
            raise self._reject(ix, request, DiscordHTTPError(401, 50027, "Invalid Webhook Token"))
        if not ix.callbacks:
            fake.violations.append(
                f"interaction {ix.id}: webhook call before the interaction was acknowledged"
            )
            raise self._reject(ix, request, DiscordHTTPError(404, 10015, "Unknown Webhook"))
        return ix

    def _webhook_message(self, ix: FakeInteraction, request: web.Request) -> dict[str, Any]:
        mid = request.match_info["message_id"]
        if mid == "@original":
            mid = ix.original_message_id or ""
        elif mid not in ix.followup_ids and mid != ix.original_message_id:
            mid = ""
        message = self.fake.messages.get(mid)
        if message is None:
            raise self._reject(ix, request, DiscordHTTPError(404, 10008, "Unknown Message"))
        return message

    def _response_extras(self, ix: FakeInteraction) -> dict[str, Any]:
        fake = self.fake
        user = ix.payload.get("member", {}).get("user") or ix.payload.get("user")
        metadata: dict[str, Any] = {
            "id": ix.id,
            "type": ix.type,
            "user": user,
            "authorizing_integration_owners": ix.payload["authorizing_integration_owners"],
        }
        if ix.type == APPLICATION_COMMAND:
            metadata["name"] = ix.payload["data"]["name"]
        if "message" in ix.payload:
            metadata["interacted_message_id"] = ix.payload["message"]["id"]
        return {
            "webhook_id": fake.application_id,
            "application_id": fake.application_id,
            "type": 20 if ix.type == APPLICATION_COMMAND else 0,
            "interaction_metadata": metadata,
        }

    # -- POST /interactions/{id}/{token}/callback --------------------------------------------
    async def callback(self, request: web.Request) -> web.Response:
        fake = self.fake
        ix = fake.interactions.get(request.match_info["interaction_id"])
        if ix is None or ix.token != request.match_info["token"]:
            raise DiscordHTTPError(404, 10062, "Unknown interaction")
        if ix.callbacks:
            fake.violations.append(f"interaction {ix.id}: acknowledged twice")
            raise self._reject(
                ix,
                request,
                DiscordHTTPError(400, 40060, "Interaction has already been acknowledged."),
            )
        arrived = request.get(ARRIVED_KEY)
        age = ix.age if arrived is None else arrived - ix.created_at
        if age > ACK_DEADLINE:
            fake.violations.append(
                f"interaction {ix.id}: late acknowledgement after {age:.2f}s (limit 3s)"
            )
            raise self._reject(ix, request, DiscordHTTPError(404, 10062, "Unknown interaction"))
        body = body_dict(request)
        cb_type = int(body.get("type", 0))
        data = body.get("data")
        if cb_type not in ALLOWED_CALLBACKS.get(ix.type, set()):
            problem = f"interaction {ix.id}: callback type {cb_type} not allowed for type {ix.type}"
            fake.violations.append(problem)
            raise self._reject(ix, request, invalid_form([problem]))
        resource = self._apply_callback(
            ix, cb_type, data if isinstance(data, dict) else {}, request
        )
        ix._record_ack(cb_type, data, age)
        message = ix.original()
        if message is not None and not message["flags"] & FLAG_EPHEMERAL and cb_type in (4, 5):
            await fake.emit_message("MESSAGE_CREATE", message)
        elif message is not None and cb_type == 7:
            await fake.emit_message("MESSAGE_UPDATE", message)
        await ix._notify()
        if "with_response" not in request.query:
            return no_content()
        interaction: dict[str, Any] = {"id": ix.id, "type": ix.type}
        if message is not None and cb_type in (4, 5, 6, 7):
            interaction.update(
                response_message_id=message["id"],
                response_message_loading=bool(message["flags"] & FLAG_LOADING),
                response_message_ephemeral=bool(message["flags"] & FLAG_EPHEMERAL),
            )
        return json_response({"interaction": interaction, "resource": resource})

    def _apply_callback(
        self, ix: FakeInteraction, cb_type: int, data: dict[str, Any], request: web.Request
    ) -> dict[str, Any]:
        fake = self.fake
        where = f"interaction {ix.id} callback {cb_type}"
        resource: dict[str, Any] = {"type": cb_type}
        if cb_type in (4, 5):
            if cb_type == 4:
                fake.check_message(data, where)
            message = fake.writer.create(
                ix.channel_id,
                fake.bot_user,
                data if cb_type == 4 else {"flags": data.get("flags")},
                files_of(request) if cb_type == 4 else [],
                extra=self._response_extras(ix),
                allow_ephemeral=True,
                loading=cb_type == 5,
            )
            ix.original_message_id = message["id"]
            resource["message"] = message
        elif cb_type in (6, 7):
            source = fake.messages.get(ix.payload.get("message", {}).get("id", ""))
            if source is None:
                raise invalid_form([f"{where}: there is no message to update"])
            if cb_type == 7:
                fake.check_message(data, where)
                fake.writer.edit(source, data, files_of(request))
                resource["message"] = source
            ix.original_message_id = source["id"]
        elif cb_type == 8:
            fake.record(fake.checks.autocomplete(list(data.get("choices") or [])), where)
        elif cb_type == 9:
            problems = fake.checks.modal(data)
            fake.record(problems, where)
            if problems and fake.reject_invalid:
                raise invalid_form(problems)
        return resource

    # -- webhook: followups and @original ----------------------------------------------------
    async def followup(self, request: web.Request) -> web.Response:
        fake = self.fake
        hook = fake.channel_webhooks.get(request.match_info["app_id"])
        if hook is not None:  # a channel webhook's execution shares the route
            return await ChannelWebhooks(fake).execute(request, hook)
        ix = self._interaction_for_webhook(request)
        payload = body_dict(request)
        fake.check_message(payload, f"interaction {ix.id} followup")
        original = ix.original()
        if ix.response_type == 5 and original is not None and original["flags"] & FLAG_LOADING:
            # Discord: the first followup after a deferred reply replaces the "thinking" message
            # and keeps the deferral's ephemerality.
            flags = original["flags"] & FLAG_EPHEMERAL
            message = fake.writer.edit(original, {**payload, "flags": None}, files_of(request))
            message["flags"] |= flags
            event = "MESSAGE_UPDATE"
        else:
            message = fake.writer.create(
                ix.channel_id,
                fake.bot_user,
                payload,
                files_of(request),
                extra=self._response_extras(ix),
                allow_ephemeral=True,
            )
            event = "MESSAGE_CREATE"
        ix.followup_ids.append(message["id"])
        if not message["flags"] & FLAG_EPHEMERAL:
            await fake.emit_message(event, message)
        await ix._notify()
        if request.query.get("wait") in ("true", "1", "True"):
            return json_response(message)
        return no_content()

    async def get_message(self, request: web.Request) -> web.Response:
        ix = self._interaction_for_webhook(request)
        return json_response(self._webhook_message(ix, request))

    async def edit_message(self, request: web.Request) -> web.Response:
        fake = self.fake
        ix = self._interaction_for_webhook(request)
        message = self._webhook_message(ix, request)
        payload = body_dict(request)
        fake.check_message(payload, f"interaction {ix.id} edit {request.match_info['message_id']}")
        fake.writer.edit(message, payload, files_of(request))
        ix.edits += 1
        if not message["flags"] & FLAG_EPHEMERAL:
            await fake.emit_message("MESSAGE_UPDATE", message)
        await ix._notify()
        return json_response(message)

    async def delete_message(self, request: web.Request) -> web.Response:
        ix = self._interaction_for_webhook(request)
        message = self._webhook_message(ix, request)
        await self.fake.delete_message(message)
        await ix._notify()
        return no_content()
