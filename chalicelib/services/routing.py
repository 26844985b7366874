"""Routing and dispatch: deciding where a new conversation goes, handing queued
conversations to agents, pick-up, transfer, @mentions, left messages, and the supervisor's
settings (groups, rules, agents' capacity).

The decisions are `domain.routing`'s; this module reads the state they need, proposes
them to the repository's conditional transactions, and tells the people concerned.
"""
from __future__ import annotations

import logging
import random
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Callable

from ..domain import protocol as p
from ..domain import routing as r
from ..domain.clock import Clock
from ..domain.errors import (
    AgentUnavailable,
    Conflict,
    ConversationNotFound,
    Forbidden,
    InvalidRule,
    NotFound,
)
from ..domain.ids import new_id
from ..domain.model import (
    Connection,
    Conversation,
    ConversationStatus,
    Group,
    Identity,
    LeftMessage,
    Role,
    Visitor,
)
from ..domain.ports import (
    AgentRepository,
    ConversationRepository,
    DispatchTrigger,
    RoutingRepository,
    VisitorRepository,
)
from .notifier import Notifier

log = logging.getLogger("kefu.routing")

LEASE_TTL_MS = 10_000  # a dispatcher that dies frees the tenant after this long
MAX_ROUNDS = 200
QUEUE_WINDOW = 20  # queued conversations read per round: the head of the queue, whose places are told
UPDATES_PER_FRAME = 10  # conversations told to agents in one `conversations.updated` or `conversations.new`
FRAME_BYTES = 96 * 1024  # and fewer if their first messages are long: API Gateway takes up to 128 KB
POSITIONS_ALWAYS_TOLD = 5  # beyond this, a visitor hears of every tenth place gained
ASSIGN_BATCH = 25  # assignments per transaction: 50 of TransactWriteItems' 100 items
BORN_ASSIGNED_TRIES = 4  # agents a new conversation tries to be born with before it is born queued
SETTINGS_CACHE_MS = 5_000  # rules and business hours, per warm container
SUPERVISORS = frozenset({"supervisor", "admin"})

Summary = Callable[[Conversation], p.ConversationSummary]
NoteWriter = Callable[[Connection, str, str], None]  # (agent connection, conversation id, text)
FirstMessages = Callable[[str, list[str]], dict[str, p.MessageOut]]  # (tenant id, conversation ids)


@dataclass
class DispatchResult:
    assigned: int = 0
    rounds: int = 0
    leased: bool = False


def _distinct_agent_batches(plan: list[tuple[r.QueueEntry, r.AgentState]]
                            ) -> list[list[tuple[r.QueueEntry, r.AgentState]]]:
    """Cut the plan, in its order, into runs where no agent appears twice: each run is one
    transaction (each agent's condition is its own `load < capacity`)."""
    batches: list[list[tuple[r.QueueEntry, r.AgentState]]] = []
    agents: set[str] = set()
    for entry, agent in plan:
        if not batches or agent.agent_id in agents or len(batches[-1]) >= ASSIGN_BATCH:
            batches.append([])
            agents = set()
        batches[-1].append((entry, agent))
        agents.add(agent.agent_id)
    return batches


def _frames_of(items: list[p.NewConversation]) -> list[list[p.NewConversation]]:
    """Items grouped for frames: up to UPDATES_PER_FRAME each, and under FRAME_BYTES."""
    frames: list[list[p.NewConversation]] = []
    size = 0
    for item in items:
        item_size = len(item.model_dump_json(exclude_none=True))
        if not frames or len(frames[-1]) >= UPDATES_PER_FRAME or size + item_size > FRAME_BYTES:
            frames.append([])
            size = 0
        frames[-1].append(item)
        size += item_size
    return frames


class _TtlCache:
    def __init__(self, ttl_ms: int) -> None:
        self._ttl = ttl_ms
        self._items: dict[str, tuple[float, object]] = {}

    def get(self, key: str, load: Callable[[], object]) -> object:
        now = time.monotonic() * 1000
        hit = self._items.get(key)
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        value = load()
        self._items[key] = (now, value)
        return value

    def forget(self, key: str) -> None:
        self._items.pop(key, None)


class RoutingService:
    def __init__(
        self,
        repo: RoutingRepository,
        agents: AgentRepository,
        conversations: ConversationRepository,
        visitors: VisitorRepository,
        notifier: Notifier,
        trigger: DispatchTrigger,
        clock: Clock,
        summary: Summary,
        classify: Callable[[str], str | None] = r.classify_message,
    ) -> None:
        self._repo = repo
        self._classify = classify  # the domain's keyword classifier; the bot's model can replace it
        self._agents = agents
        self._conversations = conversations
        self._visitors = visitors
        self._notifier = notifier
        self._trigger = trigger
        self._clock = clock
        self._summary = summary
        self._rules = _TtlCache(SETTINGS_CACHE_MS)
        self._hours = _TtlCache(SETTINGS_CACHE_MS)
        # What each queued visitor was last told, so unchanged positions are not re-sent.
        self._told: OrderedDict[str, tuple[str, int | None]] = OrderedDict()
        self._told_lock = threading.Lock()
        self.write_note: NoteWriter | None = None  # set by bootstrap: ChatService's internal note
        # Set by bootstrap: ChatService's first messages, which ride along in `conversation(s).new`.
        self.first_messages: FirstMessages | None = None
        # Called with each stored LeftMessage (bootstrap: the ticket service makes it a ticket).
        self.on_left_message: list[Callable[[LeftMessage], None]] = []
        # Telling people (posts to many sockets) runs beside the next round, in order, on one
        # thread: assignments do not wait for the fan-out of the previous round.
        self._tell_pool: ThreadPoolExecutor | None = None
        self._rng = random.Random()  # draws the agent a new conversation tries after its first choice refused

    # ------------------------------------------------------------ a new conversation

    def decide(self, visitor: Visitor, first_text: str) -> r.RoutingDecision:
        """Group and priority for a visitor's new conversation, from the tenant's rules."""
        rules = self._rules.get(visitor.tenant_id, lambda: self._repo.rules(visitor.tenant_id))
        context = r.RoutingContext(
            message_type=self._classify(first_text),
            page_url=visitor.trail[-1].url if visitor.trail else None,
            language=visitor.language,
            vip_level=r.vip_level(visitor.attributes),
            attributes=dict(visitor.attributes),
        )
        return r.route(rules, context)  # type: ignore[arg-type]

    def open_conversation(self, draft: Conversation, create: Callable[[Conversation, int | None], Conversation]
                          ) -> tuple[Conversation, r.AgentState | None]:
        """Create a visitor's new conversation (`draft`, queued as `decide` said) through
        `create` (the repository's `create_for_visitor`), born assigned when it can be.

        When nobody waits in the tenant's queue, so that nobody is overtaken, it goes to the
        agent dispatch would choose (from a read of the agents), in its creation transaction:
        an assignment with no dispatch hop and no queue. If that agent cannot take it after
        all (their load or presence changed since the read: the transaction's condition says
        so), the agents are read again and one with room is drawn (`r.draw_agent`), up to
        BORN_ASSIGNED_TRIES tries in all; then it is born queued and the dispatcher serves it.
        Returns the conversation `create` gave back (another tab's, if that one was first)
        and the agent it was born with, if any."""
        now = draft.created_at
        entry = r.QueueEntry(draft.conversation_id, draft.priority, draft.queued_at or now, draft.group_id)
        for attempt in range(BORN_ASSIGNED_TRIES):
            try:
                if attempt == 0 and self._repo.queue(draft.tenant_id, 1):
                    break  # someone waits: behind them
                agents = self._repo.agents(draft.tenant_id)
            except Exception:  # only a shortcut: the dispatcher serves a queued conversation anyway
                log.exception("could not look for a free agent")
                break
            taker = r.choose_agent(agents, entry, now) if attempt == 0 else r.draw_agent(agents, entry, now,
                                                                                          self._rng)
            if taker is None:
                break
            born = replace(draft, assignee_id=taker.agent_id, assigned_at=now, queued_at=None)
            try:
                conversation = create(born, now - r.HEARTBEAT_TIMEOUT_MS)
            except AgentUnavailable:
                continue
            return conversation, taker if conversation.conversation_id == born.conversation_id else None
        return create(draft, None), None

    def tell_born_assigned(self, conversation: Conversation, taker: r.AgentState) -> None:
        """The visitor's tabs: an agent has the conversation (as a dispatch round would say).
        The agents hear of it from the dispatcher, with the conversation's news."""
        self._tell_visitor_assigned(conversation, self._summary(conversation), taker)

    def _tell_visitor_assigned(self, conversation: Conversation, summary: p.ConversationSummary,
                               agent: r.AgentState) -> None:
        self._notifier.fan_out(conversation.watchers, p.ConversationUpdated(conversation=summary), conversation)
        self._notifier.fan_out(conversation.watchers, p.QueueStatus(
            conversation_id=conversation.conversation_id, state="assigned",
            agent_name=agent.display_name or None), conversation)

    def request_dispatch(self, tenant_id: str, conversation_ids: list[str] | None = None, new: bool = False,
                         born_assigned: bool = False) -> bool:
        """Ask the dispatch function to run (asynchronously; never fails the caller). `new`:
        the conversations were just created, and the dispatcher tells the agents about them;
        `born_assigned`: they were created assigned while nobody waited, so that is all it
        has to do. False if it could not be asked (the caller tells the agents itself)."""
        try:
            self._trigger.request(tenant_id, conversation_ids, new=new, born_assigned=born_assigned)
            return True
        except Exception:  # the next trigger (or a pick-up) will serve the queue
            log.exception("could not start dispatch")
            return False

    # ------------------------------------------------------------ dispatch (its own Lambda)

    def dispatch(self, tenant_id: str, hints: list[str] | None = None,
                 news: list[str] | None = None, only_news: bool = False) -> DispatchResult:
        """Serve the tenant's queue until nothing more can be assigned.

        Only one dispatcher per tenant works at a time (a lease item); a dispatcher that
        finds the lease taken marks it dirty, so the holder runs one more round instead.
        Each assignment is still a conditional transaction, so even two dispatchers (an
        expired lease) could never overfill an agent or assign a conversation twice.

        `news` are conversations just created: the round that sees them tells the agents,
        in one frame per agent for the whole round (`conversations.new`) rather than one per
        conversation. A dispatcher that finds the lease taken leaves its news on the lease
        item for the holder. `only_news`: the news were born assigned while nobody waited,
        so the first round only tells them (no reads of the agents and the queue) — unless
        the lease brought news of others, or was marked meanwhile, which need a full round.
        """
        result = DispatchResult()
        holder = new_id("d")
        tried = self._repo.acquire_lease(tenant_id, holder, self._clock.now_ms(), LEASE_TTL_MS, news or ())
        if not tried.taken:
            if news and not tried.handed_over:  # nobody could take them (the lease changed hands): tell here
                self._announce_new(tenant_id, self._read_all(tenant_id, news))
            return result
        result.leased = True
        only_news = only_news and not tried.news
        news = list(dict.fromkeys([*(news or []), *tried.news]))
        hints = list(dict.fromkeys([*(hints or []), *news]))  # the round looks each of them up
        tells: list[Future[None]] = []
        renewed = self._clock.now_ms()
        try:
            while result.rounds < MAX_ROUNDS:
                if self._clock.now_ms() - renewed > LEASE_TTL_MS // 3:  # a long drain keeps the lease
                    renewed = self._clock.now_ms()
                    if not self._repo.renew_lease(tenant_id, holder, renewed, LEASE_TTL_MS):
                        holder = ""  # it expired and another dispatcher has it now: leave it the work
                        break
                result.rounds += 1
                if only_news and result.rounds == 1:
                    told = self._read_all(tenant_id, news)
                    self._submit(tells, lambda: self._announce_new(tenant_id, told))
                    assigned, again = 0, False
                else:
                    assigned, again = self._round(tenant_id, hints, news, tells)
                hints, news = [], []
                result.assigned += assigned
                if again:
                    continue
                released, left = self._repo.release_lease(tenant_id, holder)
                if released:
                    holder = ""
                    break
                hints, news = left, list(left)  # marked meanwhile: one more round, with what they left
        finally:
            if holder:
                released, left = self._repo.release_lease(tenant_id, holder)
                news = [*news, *left]
            if news:  # rounds ran out (or the lease was lost) before these were told
                leftover = self._read_all(tenant_id, news)
                self._submit(tells, lambda: self._announce_new(tenant_id, leftover))
            for tell in tells:  # the invocation ends only when everybody has been told
                tell.result()
        return result

    def _submit(self, tells: list[Future[None]], work: Callable[[], None]) -> None:
        if self._tell_pool is None:
            with self._told_lock:
                if self._tell_pool is None:
                    self._tell_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dispatch-tell")

        def guarded() -> None:
            try:
                work()
            except Exception:  # a failed post must not undo or block assignments already made
                log.exception("telling the queue failed")

        tells.append(self._tell_pool.submit(guarded))

    def _round(self, tenant_id: str, hints: list[str], news: list[str],
               tells: list[Future[None]]) -> tuple[int, bool]:
        """One pass over the head of the queue; returns (assigned, run again at once). `news`
        are among `hints`, so each is in the queue window or looked up."""
        now = self._clock.now_ms()
        agents = self._repo.agents(tenant_id)
        queued = self._repo.queue(tenant_id, QUEUE_WINDOW)
        seen = {c.conversation_id: c for c in queued}
        behind: list[Conversation] = []  # just queued, further back than the window
        # An index lags its table a little: look the hinted ones up directly (one BatchGetItem).
        for hinted in self._read_all(tenant_id, [i for i in hints if i not in seen]):
            seen[hinted.conversation_id] = hinted  # new but not queued (e.g. assigned as it was created): still told
            if not hinted.queued:
                continue
            key = r.queue_key(hinted.priority, hinted.queued_at or 0, hinted.conversation_id)
            if len(queued) < QUEUE_WINDOW or any(key < r.queue_key(c.priority, c.queued_at or 0,
                                                                     c.conversation_id) for c in queued):
                queued.append(hinted)
            else:
                behind.append(hinted)
        by_id = {c.conversation_id: c for c in queued}
        entries = [r.QueueEntry(c.conversation_id, c.priority, c.queued_at or 0, c.group_id) for c in queued]
        plan = r.plan_assignments(entries, agents, now)
        assigned: list[tuple[Conversation, r.AgentState]] = []
        refused = False
        for batch in _distinct_agent_batches(plan):
            stamp = self._clock.now_ms()  # assigned_at: when its transaction runs, not when the round began
            reachable_since = stamp - r.HEARTBEAT_TIMEOUT_MS
            if len(batch) > 1 and self._repo.assign_together(
                    tenant_id, [(e.conversation_id, a.agent_id) for e, a in batch], stamp, reachable_since):
                done = batch
            else:  # one by one: which agent refused, which conversation was taken meanwhile
                done = []
                for entry, agent in batch:
                    try:
                        self._repo.assign(tenant_id, entry.conversation_id, agent.agent_id, stamp,
                                          reachable_since=reachable_since)
                    except AgentUnavailable:
                        refused = True  # the agent changed (went away, picked one up): plan the rest again,
                        break  # so nobody behind this conversation is served before it
                    except Conflict:
                        continue  # picked up by hand meanwhile
                    done.append((entry, agent))
            for entry, agent in done:
                conversation = by_id[entry.conversation_id]
                conversation.assignee_id, conversation.assigned_at, conversation.queued_at = agent.agent_id, stamp, None
                agent.load += 1
                assigned.append((conversation, agent))
            if refused:
                break
        waiting = [c for c in queued if c.queued]
        fresh = [seen[i] for i in dict.fromkeys(news) if i in seen]  # as they are after this round

        def tell() -> None:
            self._tell(tenant_id, assigned, waiting, agents, now, fresh)
            for conversation in behind:  # its place once, counted; it hears more as it nears the head
                self._tell_place(conversation, self._repo.queue_position(tenant_id, conversation), agents, now)

        self._submit(tells, tell)
        # Plan again at once if an agent refused, or if the whole window went and more may wait.
        more_behind = len(queued) >= QUEUE_WINDOW and len(assigned) == len(plan) and bool(assigned)
        return len(assigned), bool(waiting) and refused or more_behind

    def _read_all(self, tenant_id: str, conversation_ids: list[str]) -> list[Conversation]:
        """The ones that exist, in the order asked (one request for a few, a BatchGetItem for more)."""
        wanted = list(dict.fromkeys(conversation_ids))
        if len(wanted) == 1:
            found = self._conversations.get(tenant_id, wanted[0])
            return [found] if found is not None else []
        by_id = self._conversations.get_many(tenant_id, wanted) if wanted else {}
        return [by_id[i] for i in wanted if i in by_id]

    def _announce_new(self, tenant_id: str, conversations: list[Conversation],
                      agent_connections: list[str] | None = None, assigned_here: frozenset[str] = frozenset()) -> None:
        """Tell every agent connection about conversations visitors have just started, each
        with its first message (read together): one `conversation.new` for one, else
        `conversations.new` frames of up to 10 items (and well under API Gateway's 128 KB).
        Those already assigned (born assigned, or picked up before this round read them)
        follow in `conversations.updated`, as every assignment does; `assigned_here` are the
        round's own, told with the round's assignments."""
        if not conversations:
            return
        if agent_connections is None:
            agent_connections = self._notifier.agents(tenant_id)
        if not agent_connections:
            return
        firsts: dict[str, p.MessageOut] = {}
        if self.first_messages is not None:
            try:
                firsts = self.first_messages(tenant_id, [c.conversation_id for c in conversations])
            except Exception:  # the agents still hear of them; the workbench loads the message on opening
                log.exception("could not read the first messages")
        items = [p.NewConversation(conversation=self._summary(c), message=firsts.get(c.conversation_id))
                 for c in conversations]
        for chunk in _frames_of(items):
            self._notifier.fan_out(agent_connections, p.ConversationsNew(conversations=chunk) if len(chunk) > 1
                                   else p.ConversationNew(conversation=chunk[0].conversation, message=chunk[0].message))
        self._tell_updates(agent_connections, [item.conversation for item in items if item.conversation.assignee_id
                                               and item.conversation.conversation_id not in assigned_here])

    def _tell_updates(self, agent_connections: list[str], summaries: list[p.ConversationSummary]) -> None:
        for start in range(0, len(summaries), UPDATES_PER_FRAME):  # one frame per round, not per assignment
            chunk = summaries[start:start + UPDATES_PER_FRAME]
            self._notifier.fan_out(agent_connections, p.ConversationsUpdated(conversations=chunk) if len(chunk) > 1
                                   else p.ConversationUpdated(conversation=chunk[0]))

    def _tell(self, tenant_id: str, assigned: list[tuple[Conversation, r.AgentState]],
              waiting: list[Conversation], agents: list[r.AgentState], now: int,
              fresh: list[Conversation] | None = None) -> None:
        fresh = fresh or []
        agent_connections = self._notifier.agents(tenant_id) if assigned or fresh else []
        # News first, then the assignments (a new one's too): news may reach an agent late
        # (see protocol.md), so the state an agent keeps comes from the updates.
        self._announce_new(tenant_id, fresh, agent_connections,
                           frozenset(c.conversation_id for c, _ in assigned))
        summaries = [self._summary(c) for c, _ in assigned]
        self._tell_updates(agent_connections, summaries)
        for (conversation, agent), summary in zip(assigned, summaries):
            self._tell_visitor_assigned(conversation, summary, agent)
            with self._told_lock:
                self._told.pop(conversation.conversation_id, None)
        if not waiting:
            return
        closed = self._closed(tenant_id, now)
        waiting.sort(key=lambda c: r.queue_key(c.priority, c.queued_at or 0, c.conversation_id))
        for position, conversation in enumerate(waiting, start=1):
            self._tell_place(conversation, position, agents, now, closed)

    def _tell_place(self, conversation: Conversation, position: int, agents: list[r.AgentState], now: int,
                    closed: bool | None = None) -> None:
        if closed is None:
            closed = self._closed(conversation.tenant_id, now)
        frame = _place(conversation, position, agents, now, closed)
        if not self._should_tell(conversation.conversation_id, frame.state, position):
            return
        self._notifier.fan_out(conversation.watchers, frame, conversation)

    def tell_visitor_place(self, connection: Connection, conversation: Conversation) -> None:
        """A visitor's tab that (re)connects to a waiting conversation hears its place (or that
        nobody can answer, with the leave-a-message form) at once: the dispatcher tells each
        place once, so a reloaded page or a second tab would otherwise show nothing until the
        place changed. Two Queries, only for a conversation in the queue."""
        if not conversation.queued or conversation.assignee_id:
            return
        now = self._clock.now_ms()
        agents = self._repo.agents(conversation.tenant_id)
        position = self._repo.queue_position(conversation.tenant_id, conversation)
        self._notifier.reply(connection.connection_id,
                             _place(conversation, position, agents, now, self._closed(conversation.tenant_id, now)))

    def _closed(self, tenant_id: str, now: int) -> bool:
        """Outside the tenant's business hours (their settings cached; no hours set: never closed)."""
        hours = self._hours.get(tenant_id, lambda: self._repo.business_hours(tenant_id))
        return isinstance(hours, r.BusinessHours) and not hours.is_open(now)

    def _should_tell(self, conversation_id: str, state: str, position: int) -> bool:
        with self._told_lock:
            before = self._told.get(conversation_id)
            if before is not None:
                old_state, old_position = before
                if old_state == state and old_position == position:
                    return False
                if (old_state == state and position > POSITIONS_ALWAYS_TOLD and old_position is not None
                        and old_position // 10 == position // 10):
                    return False
            self._told[conversation_id] = (state, position)
            self._told.move_to_end(conversation_id)
            while len(self._told) > 20_000:
                self._told.popitem(last=False)
            return True

    def bot_handed_off(self, tenant_id: str, conversation_id: str, priority: str) -> None:
        """The bot gave up (or the visitor asked for a person): a complaint or anger moves the
        waiting conversation up the queue; either way the dispatcher runs."""
        if priority in r.PRIORITIES and priority != "normal":
            self._repo.reprioritize(tenant_id, conversation_id, priority)
        self.request_dispatch(tenant_id, [conversation_id])

    # ------------------------------------------------------------ agents coming and going

    def agent_connected(self, connection: Connection) -> None:
        self._repo.connected(connection.tenant_id, connection.principal_id, self._clock.now_ms())
        self.request_dispatch(connection.tenant_id)

    def agent_disconnected(self, connection: Connection) -> None:
        self._repo.disconnected(connection.tenant_id, connection.principal_id)

    def heartbeat(self, connection: Connection) -> None:
        """A workbench ping. An agent whose heartbeat had gone stale is offered conversations
        again from now on, so the queue drains to them at once (as on connect)."""
        if self._repo.heartbeat(connection.tenant_id, connection.principal_id, self._clock.now_ms(),
                                r.HEARTBEAT_TIMEOUT_MS):
            self.request_dispatch(connection.tenant_id)

    # ------------------------------------------------------------ pick-up and transfer

    def pickup(self, connection: Connection, frame: p.Frame) -> None:
        assert isinstance(frame, p.PickUp)
        identity = self._agent_identity(connection)
        conversation = self._conversation(identity, frame.conversation_id)
        if conversation.assignee_id:
            raise Conflict("someone already took this conversation",
                           {"conversation_id": conversation.conversation_id, "assignee_id": conversation.assignee_id})
        try:
            self._repo.assign(identity.tenant_id, conversation.conversation_id, identity.principal_id,
                              self._clock.now_ms())
        except AgentUnavailable:
            raise AgentUnavailable("you are at capacity: resolve or transfer a conversation first") from None
        except Conflict:
            latest = self._conversations.get(identity.tenant_id, conversation.conversation_id)
            raise Conflict("someone already took this conversation",
                           {"conversation_id": conversation.conversation_id,
                            "assignee_id": latest.assignee_id if latest else None}) from None
        self._announce(identity.tenant_id, conversation.conversation_id, connection.display_name)

    def transfer(self, connection: Connection, frame: p.Frame) -> None:
        """To an agent (who must have room and be online) or to a group's queue, with a note
        that becomes an internal message in the history; the new agent gets a notification."""
        assert isinstance(frame, p.Transfer)
        identity = self._agent_identity(connection)
        conversation = self._conversation(identity, frame.conversation_id)
        current = conversation.assignee_id
        if current not in (None, identity.principal_id) and not self.is_supervisor(identity):
            raise Forbidden("only the assignee or a supervisor transfers a conversation")
        now = self._clock.now_ms()
        if frame.to_agent_id:
            target = self._repo.agent(identity.tenant_id, frame.to_agent_id)
            if target is None:
                raise NotFound("no such agent")
            if target.agent_id == current:
                raise Conflict("the conversation is already theirs")
            try:
                self._repo.assign(identity.tenant_id, conversation.conversation_id, target.agent_id, now,
                                  expected_assignee=current, reachable_since=now - r.HEARTBEAT_TIMEOUT_MS)
            except AgentUnavailable:
                raise AgentUnavailable(f"{target.display_name or 'that agent'} is offline or at capacity",
                                       {"agent_id": target.agent_id}) from None
            where = target.display_name or target.agent_id
        else:
            groups = {g.group_id: g for g in self._repo.groups(identity.tenant_id)}
            group = groups.get(frame.to_group_id or "")
            if group is None:
                raise NotFound("no such group")
            self._repo.requeue(identity.tenant_id, conversation.conversation_id, current, group.group_id,
                               conversation.priority, now)
            where = f"group {group.name}"
        text = f"Transferred to {where} by {connection.display_name or identity.principal_id}"
        text += f": {frame.note}" if frame.note.strip() else ""
        if self.write_note is not None:
            self.write_note(connection, conversation.conversation_id, text)
        self._announce(identity.tenant_id, conversation.conversation_id, None)
        if frame.to_agent_id:
            self._notify_agents(identity.tenant_id, [frame.to_agent_id], p.Notification(
                kind="transfer", conversation_id=conversation.conversation_id, from_agent_id=identity.principal_id,
                from_name=connection.display_name, text=frame.note or text))
        else:
            self.request_dispatch(identity.tenant_id, [conversation.conversation_id])
        if current:
            self.request_dispatch(identity.tenant_id)  # the previous assignee has room again

    def _announce(self, tenant_id: str, conversation_id: str, agent_name: str | None) -> None:
        conversation = self._conversations.get(tenant_id, conversation_id)
        if conversation is None:
            return
        self._notifier.fan_out(set(self._notifier.agents(tenant_id)) | conversation.watchers,
                               p.ConversationUpdated(conversation=self._summary(conversation)), conversation)
        if conversation.assignee_id and agent_name is not None:
            self._notifier.fan_out(conversation.watchers, p.QueueStatus(
                conversation_id=conversation_id, state="assigned", agent_name=agent_name or None), conversation)

    # ------------------------------------------------------------ @mentions

    def notify_mentions(self, connection: Connection, conversation_id: str, text: str) -> list[str]:
        """Tell each agent @mentioned in an internal note (not the author)."""
        if "@" not in text:
            return []
        agents = self._repo.agents(connection.tenant_id)
        people = [(a.agent_id, a.display_name, "") for a in agents]
        ids = [i for i in r.mentioned(text, people) if i != connection.principal_id]
        if ids:
            self._notify_agents(connection.tenant_id, ids, p.Notification(
                kind="mention", conversation_id=conversation_id, from_agent_id=connection.principal_id,
                from_name=connection.display_name, text=text))
        return ids

    def _notify_agents(self, tenant_id: str, agent_ids: list[str], frame: p.Frame) -> None:
        targets: set[str] = set()
        for agent_id in agent_ids:
            targets |= set(self._notifier.agent_connections(tenant_id, agent_id))
        self._notifier.fan_out(targets, frame)

    # ------------------------------------------------------------ leaving a message

    def leave_message(self, connection: Connection, frame: p.Frame) -> None:
        assert isinstance(frame, p.LeaveMessage)
        if connection.role is not Role.VISITOR:
            raise Forbidden("only visitors leave messages")
        visitor = self._visitors.get(connection.tenant_id, connection.principal_id)
        now = self._clock.now_ms()
        hours = self._repo.business_hours(connection.tenant_id)
        reason = "closed" if hours is not None and not hours.is_open(now) else "no_agent"
        message = LeftMessage(connection.tenant_id, new_id("lm"), connection.principal_id,
                              visitor.open_conversation_id if visitor else None, frame.name, frame.email.lower(),
                              frame.text, now, reason)
        self._repo.add_left_message(message)
        for hook in self.on_left_message:
            try:
                hook(message)
            except Exception:  # the message is kept; a failed hook must not lose it
                log.exception("on_left_message hook failed")
        self._notifier.reply(connection.connection_id, p.MessageLeft(message_id=message.message_id))

    def left_messages(self, identity: Identity, limit: int) -> list[LeftMessage]:
        self._agent_identity_of(identity)
        return self._repo.left_messages(identity.tenant_id, limit)

    # ------------------------------------------------------------ supervisor settings

    def agent_states(self, identity: Identity) -> list[r.AgentState]:
        self._agent_identity_of(identity)
        return sorted(self._repo.agents(identity.tenant_id), key=lambda a: (a.display_name.lower(), a.agent_id))

    def queue(self, identity: Identity) -> list[Conversation]:
        self._agent_identity_of(identity)
        return self._repo.queue(identity.tenant_id, QUEUE_WINDOW)

    def update_agent(self, identity: Identity, agent_id: str, groups: list[str], languages: list[str],
                     seniority: int, capacity: int) -> r.AgentState:
        self._require_supervisor(identity)
        known = {g.group_id for g in self._repo.groups(identity.tenant_id)}
        unknown = sorted(set(groups) - known)
        if unknown:
            raise InvalidRule(f"unknown groups: {', '.join(unknown)}", {"groups": unknown})
        before = self._repo.agent(identity.tenant_id, agent_id)
        state = self._repo.save_profile(identity.tenant_id, agent_id, frozenset(groups),
                                        frozenset(x.lower() for x in languages), seniority, capacity)
        if state is None:
            raise NotFound("no such agent")
        if before is None or capacity > before.capacity or set(groups) - before.groups:
            self.request_dispatch(identity.tenant_id)  # room or reach grew: serve the queue
        return state

    def groups(self, identity: Identity) -> list[Group]:
        self._agent_identity_of(identity)
        return sorted(self._repo.groups(identity.tenant_id), key=lambda g: g.name.lower())

    def save_group(self, identity: Identity, name: str, description: str, group_id: str | None = None) -> Group:
        self._require_supervisor(identity)
        existing = self._repo.groups(identity.tenant_id)
        if group_id is not None and not any(g.group_id == group_id for g in existing):
            raise NotFound("no such group")
        if any(g.name.lower() == name.lower() and g.group_id != group_id for g in existing):
            raise Conflict(f"a group named {name} exists")
        group = Group(identity.tenant_id, group_id or new_id("g"), name, description)
        self._repo.put_group(group)
        return group

    def delete_group(self, identity: Identity, group_id: str) -> None:
        self._require_supervisor(identity)
        users = [x.name for x in self._repo.rules(identity.tenant_id) if x.group_id == group_id]
        if users:
            raise Conflict("routing rules send conversations to this group", {"rules": users})
        if not self._repo.delete_group(identity.tenant_id, group_id):
            raise NotFound("no such group")

    def rules(self, identity: Identity) -> list[r.RoutingRule]:
        self._agent_identity_of(identity)
        return sorted(self._repo.rules(identity.tenant_id), key=lambda x: (x.position, x.rule_id))

    def save_rule(self, identity: Identity, rule: r.RoutingRule, exists: bool) -> r.RoutingRule:
        self._require_supervisor(identity)
        rule.validate()
        rules = self._repo.rules(identity.tenant_id)
        if exists and not any(x.rule_id == rule.rule_id for x in rules):
            raise NotFound("no such routing rule")
        if rule.group_id and not any(g.group_id == rule.group_id for g in self._repo.groups(identity.tenant_id)):
            raise InvalidRule("the rule's group does not exist", {"group_id": rule.group_id})
        if not exists and len(rules) >= 200:
            raise Conflict("at most 200 routing rules")
        self._repo.put_rule(rule)
        self._rules.forget(identity.tenant_id)
        return rule

    def delete_rule(self, identity: Identity, rule_id: str) -> None:
        self._require_supervisor(identity)
        if not self._repo.delete_rule(identity.tenant_id, rule_id):
            raise NotFound("no such routing rule")
        self._rules.forget(identity.tenant_id)

    def business_hours(self, identity: Identity) -> r.BusinessHours | None:
        self._agent_identity_of(identity)
        return self._repo.business_hours(identity.tenant_id)

    def set_business_hours(self, identity: Identity, hours: r.BusinessHours | None) -> None:
        self._require_supervisor(identity)
        if hours is not None:
            hours.validate()
        self._repo.put_business_hours(identity.tenant_id, hours)
        self._hours.forget(identity.tenant_id)

    # ------------------------------------------------------------ helpers

    def _agent_identity(self, connection: Connection) -> Identity:
        return self._agent_identity_of(connection.identity)

    @staticmethod
    def _agent_identity_of(identity: Identity) -> Identity:
        if not identity.is_agent:
            raise Forbidden("this needs an agent")
        return identity

    def is_supervisor(self, identity: Identity) -> bool:
        agent = self._agents.get(identity.tenant_id, identity.principal_id)
        return agent is not None and agent.role in SUPERVISORS

    def _require_supervisor(self, identity: Identity) -> None:
        self._agent_identity_of(identity)
        if not self.is_supervisor(identity):
            raise Forbidden("only supervisors change routing")

    def _conversation(self, identity: Identity, conversation_id: str) -> Conversation:
        conversation = self._conversations.get(identity.tenant_id, conversation_id)
        if conversation is None or not conversation.readable_by(identity):
            raise ConversationNotFound("no such conversation")
        if conversation.status is not ConversationStatus.OPEN:
            raise Conflict("the conversation is resolved")
        return conversation


def _place(conversation: Conversation, position: int, agents: list[r.AgentState], now: int,
           closed: bool) -> p.QueueStatus:
    """The visitor's `queue.status` for a waiting conversation at `position`: queued with the
    expected wait, or offline (closed, or nobody reachable for its group) with the form."""
    offline = closed or not r.anyone_reachable(agents, conversation.group_id, now)
    return p.QueueStatus(
        conversation_id=conversation.conversation_id, state="offline" if offline else "queued", position=position,
        expected_wait_ms=None if offline else r.expected_wait_ms(position, agents, conversation.group_id, now),
        leave_message=offline)
