"""What every handler needs beyond bot/context.py: one way to reply and edit (keyboards are built
by bot/views)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar, cast

from telegram import ForceReply, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import ConversationHandler

from bot.context import Context, chat_locale, deps
from bot.conversations import current_turn
from bot.domain import RoleUser
from bot.errors import DomainError
from bot.services.roles import authorize
from bot.views import Row, keyboard

HTML = ParseMode.HTML
# Ask for a typed answer; in a group with privacy mode on the bot still receives the reply.
TYPED_ANSWER = ForceReply(selective=True)
T = TypeVar("T")
# A handler of a role action: it gets the acting account, checked by `requires_role`.
RoleAction = Callable[[Update, Context, RoleUser], Awaitable[T]]


async def render(
    context: Context,
    chat_id: int,
    template: str,
    *,
    rows: list[Row] | None = None,
    markup: InlineKeyboardMarkup | ForceReply | None = None,
    locale: str | None = None,
    **values: Any,
) -> tuple[str, InlineKeyboardMarkup | ForceReply | None]:
    """The text and keyboard of `template` in the chat's language (or `locale`)."""
    locale = locale or await chat_locale(context, chat_id)
    renderer = deps(context).renderer
    if rows:
        markup = keyboard(renderer, locale, rows)
    return renderer.render(locale, template, **values), markup


async def reply(update: Update, context: Context, template: str, **options: Any) -> None:
    """Render `template` (see `render`) and send it to the chat of the update; a press on the
    live step of a flow gets it in that step's message instead (see `deliver`, and its `step`
    option)."""
    chat = update.effective_chat
    assert chat is not None
    step = bool(options.pop("step", False))
    text, markup = await render(context, chat.id, template, **options)
    await deliver(update, context, text, markup, step=step)


# --- flow steps: a message whose buttons answer one step of a flow (/antre, /lapor) ---

STEP = "step"  # user_data: the live step's message id and callback data (one flow at a time)


async def deliver(
    update: Update,
    context: Context,
    text: str,
    markup: InlineKeyboardMarkup | ForceReply | None,
    *,
    step: bool = False,
) -> None:
    """Send `text` to the update's chat. When the update is a press on the live step, the step is
    finished: its message is edited into `text` (its buttons go) instead. With `step`, the
    message is the new live step, and a step still open elsewhere loses its buttons."""
    chat_id = chat_id_of(update)
    data = context.user_data  # taken before sending: housekeeping may drop it meanwhile
    target = pressed_step(update, context)
    if target is not None and not isinstance(markup, ForceReply):
        await context.bot.edit_message_text(
            text, chat_id=chat_id, message_id=target, parse_mode=HTML, reply_markup=markup
        )
        message_id = target
    else:
        if step:
            await close_step(context, chat_id)
        sent = await context.bot.send_message(chat_id, text, parse_mode=HTML, reply_markup=markup)
        message_id = sent.message_id
    if data is None:
        return
    if step and isinstance(markup, InlineKeyboardMarkup):
        data[STEP] = (message_id, _callback_data(markup))
    elif target is not None:
        data.pop(STEP, None)


def _callback_data(markup: InlineKeyboardMarkup) -> list[str]:
    return [str(b.callback_data) for row in markup.inline_keyboard for b in row if b.callback_data]


def pressed_step(update: Update, context: Context) -> int | None:
    """The live step's message id when the update presses one of its buttons, else None."""
    query = update.callback_query
    live = (context.user_data or {}).get(STEP)
    if query is None or query.message is None or live is None:
        return None
    message_id, offered_data = live
    if query.message.message_id != message_id or query.data not in offered_data:
        return None
    return int(message_id)


def take_step(update: Update, context: Context) -> int | None:
    """The live step's message id when the update presses it, which the caller now replaces
    (e.g. with the booking made); the flow has no live step after this."""
    target = pressed_step(update, context)
    if target is not None and context.user_data is not None:
        context.user_data.pop(STEP, None)
    return target


async def close_step(context: Context, chat_id: int) -> None:
    """The flow ended without a press on its live step (/batal, a timeout, another flow begun):
    the step's buttons are removed, so that they visibly stop working."""
    live = (context.user_data or {}).pop(STEP, None)
    if live is not None:
        await drop_keyboard(context, chat_id, live[0])


async def drop_keyboard(context: Context, chat_id: int, message_id: int) -> None:
    """Remove a message's inline keyboard (quietly if the message is gone or has none)."""
    turn = current_turn()
    if turn is not None and (chat_id, message_id) in turn.dropped:
        return  # the press on a step that timed out as it arrived: its keyboard went already
    if turn is not None:
        turn.dropped.add((chat_id, message_id))
    try:
        await context.bot.edit_message_reply_markup(chat_id, message_id, reply_markup=None)
    except BadRequest:
        return


def on_step(callback: Callable[[Update, Context], Awaitable[T]]) -> Callable[..., Any]:
    """Run a flow's button handler only for a button of its live step; a press on any other
    (an earlier step, a finished or abandoned flow, a second tap) is told that the choice is
    no longer valid and changes nothing."""

    @functools.wraps(callback)
    async def guarded(update: Update, context: Context) -> T | None:
        if pressed_step(update, context) is None:
            await answer_query(update)
            await stale_choice(update, context)
            return None
        return await callback(update, context)

    return guarded


def offered(update: Update) -> bool:
    """Whether the pressed button is still on its message (not edited away since)."""
    query = update.callback_query
    markup = query.message.reply_markup if query and isinstance(query.message, Message) else None
    return markup is not None and query is not None and query.data in _callback_data(markup)


async def stale_choice(update: Update, context: Context) -> None:
    """Answer a press on a button that no longer works; a message still showing that button
    (a flow that ended without taking its buttons, e.g. before a restart) loses its buttons."""
    query = update.callback_query
    message = query.message if query is not None else None
    live = (context.user_data or {}).get(STEP)
    if isinstance(message, Message) and offered(update) and not _is_live(message, live):
        await drop_keyboard(context, message.chat.id, message.message_id)
    await reply(update, context, "citizen/error_stale_button.html")


def _is_live(message: Message, live: tuple[int, list[str]] | None) -> bool:
    return live is not None and live[0] == message.message_id


async def edit(update: Update, context: Context, template: str, **options: Any) -> None:
    """Render `template` into the message whose button was pressed, replacing its buttons."""
    query = update.callback_query
    assert query is not None and query.message is not None
    chat_id = query.message.chat.id
    text, markup = await render(context, chat_id, template, **options)
    assert not isinstance(markup, ForceReply)  # an edited message keeps inline buttons only
    await context.bot.edit_message_text(
        text,
        chat_id=chat_id,
        message_id=query.message.message_id,
        parse_mode=HTML,
        reply_markup=markup,
    )


def chat_id_of(update: Update) -> int:
    """The id of the chat the update came from."""
    assert update.effective_chat is not None
    return update.effective_chat.id


def callback_arg(update: Update) -> str:
    """The part of the callback data after the first colon (`rem:t:5` -> `t:5`)."""
    assert update.callback_query is not None
    return (update.callback_query.data or "").partition(":")[2]


def typed_text(update: Update) -> str:
    """The text of the message the person typed ('' for one without text)."""
    assert update.message is not None
    return update.message.text or ""


def row_id(raw: str) -> int:
    """A row id taken from callback data; -1 (no row has it) for anything else, e.g. a sign,
    non-ASCII digits ('²' passes str.isdigit but not int) or more than SQLite can hold."""
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else -1


async def answer_query(update: Update) -> None:
    """Acknowledge a button press (Telegram shows a spinner until then)."""
    if update.callback_query:
        await update.callback_query.answer()


async def stale(update: Update, context: Context) -> int:
    """An old or forged button inside a conversation: say so and end it."""
    await reply(update, context, "citizen/error_stale_button.html")
    return ConversationHandler.END


async def send_markup(
    update: Update,
    context: Context,
    template: str,
    markup: InlineKeyboardMarkup,
    *,
    step: bool = False,
    **values: Any,
) -> None:
    """Send `template` with a keyboard built by the caller (labels with data in them); see
    `deliver` for `step`."""
    chat = update.effective_chat
    assert chat is not None
    text = deps(context).renderer.render(await chat_locale(context, chat.id), template, **values)
    await deliver(update, context, text, markup, step=step)


HANDED_ON = "handed_on_updates"  # bot_data: update ids passed on to the handlers again


def hand_on(update: Update, context: Context) -> int:
    """End this conversation and let the handlers see the update again: the person has moved
    on to another flow (e.g. started /lapor while a booking was half done). The update is
    marked as handed on, so the once-only check lets this second pass through."""
    context.bot_data.setdefault(HANDED_ON, set()).add(update.update_id)
    turn = current_turn()
    if turn is not None:  # within the update's turn, before its conversations are written
        turn.again.append(update)
    else:
        context.application.create_task(context.application.process_update(update), update=update)
    return ConversationHandler.END


async def refuse(update: Update, context: Context, error: DomainError) -> None:
    """Say no in the domain error's own words (its template, filled from its context)."""
    await reply(update, context, error.template, **error.context)


async def acting_role(update: Update, context: Context, action: str) -> RoleUser | None:
    """The acting account if the roles table allows `action`; else a polite refusal and None."""
    assert update.effective_user is not None
    d = deps(context)
    try:
        return await authorize(d.db, update.effective_user.id, action, now=d.now())
    except DomainError as error:
        await refuse(update, context, error)
        return None


def requires_role(
    action: str, *, refused: Any = None, drop: str | None = None, answered: bool = True
) -> Callable[[RoleAction[T]], Callable[[Update, Context], Coroutine[Any, Any, T | None]]]:
    """Guard a handler with the roles table's row `action`: a pressed button is acknowledged
    (unless `answered=False`: the handler answers it, e.g. with a pop-up), then the handler
    runs with the acting account as its third argument. Anyone else gets a polite refusal,
    loses the draft `drop` in user_data (if named) and the handler returns `refused`
    (ConversationHandler.END in a conversation step)."""

    def decorate(
        handler: RoleAction[T],
    ) -> Callable[[Update, Context], Coroutine[Any, Any, T | None]]:
        @functools.wraps(handler)
        async def guarded(update: Update, context: Context) -> T | None:
            if answered:
                await answer_query(update)
            user = await acting_role(update, context, action)
            if user is not None:
                return await handler(update, context, user)
            if not answered:
                await answer_query(update)
            if drop is not None and context.user_data is not None:
                context.user_data.pop(drop, None)
            return cast(T | None, refused)

        return guarded

    return decorate
