"""Twilio Voice, putting a call through to a person: the TwiML of each step of the hunt,
built with Twilio's own builders. Pure: no AWS, no clock.

    incoming call  → greeting (+ recording notice), then <Dial answerOnBridge> one agent:
                     the caller hears ringing while the agent's phone rings
    agent picks up → SCREEN_PATH: "Support call from ... Press 1 to accept." (<Gather>);
                     only a key press accepts, so the agent's own voicemail never takes it
    key pressed    → SCREENED_PATH: 1 bridges the two (an empty answer), anything else hangs up
    the dial ends  → DIALED_PATH: the next agent, or voicemail, or (after a conversation) hang up

Every callback URL carries the caller's CallSid and the attempt's number in its query:
Twilio signs the whole URL, so neither can be altered.
"""

from __future__ import annotations

from urllib.parse import urlencode

from switchboard.channels.voice import VOICE_PATH

CALLBACK_PATH = VOICE_PATH + "/callback"  # `12 CALL`: the agent answered our call to them
CALLBACK_CONNECT_PATH = VOICE_PATH + "/callback/connect"  # they pressed a key: 1 dials the customer
CALLBACK_DONE_PATH = VOICE_PATH + "/callback/done"  # the call to the customer ended
SCREEN_PATH = VOICE_PATH + "/screen"
SCREENED_PATH = VOICE_PATH + "/screened"
DIALED_PATH = VOICE_PATH + "/dialed"
ACCEPT_DIGIT = "1"
SCREEN_SECONDS = 8  # how long the agent has to press 1
RECORDING_NOTICE = "This call may be recorded."


def _query(call_sid: str, attempt: int, caller: str, called: str) -> str:
    return urlencode({"call": call_sid, "attempt": attempt, "caller": caller, "called": called})


def dial_twiml(
    public_url: str, call_sid: str, attempt: int, agent_phone: str, caller: str, called: str, timeout: int,
    record: bool, say_first: str = "",
) -> str:
    """Ring one agent (attempt `attempt`), screened; the caller hears `say_first`, then ringing."""
    from twilio.twiml.voice_response import Dial, VoiceResponse

    from switchboard.channels.twilio_webhook import retried

    query = _query(call_sid, attempt, caller, called)
    response = VoiceResponse()
    if say_first:
        response.say(say_first)
    dial = Dial(
        action=retried(f"{public_url}{DIALED_PATH}?{query}"), method="POST", timeout=timeout, answer_on_bridge=True,
        caller_id=called if called.startswith("+") else None,  # the support number: the agent sees it is a support call
        record="record-from-answer-dual" if record else None,
    )
    dial.number(agent_phone, url=retried(f"{public_url}{SCREEN_PATH}?{query}"), method="POST")
    response.append(dial)
    return str(response)


def screen_twiml(public_url: str, call_sid: str, attempt: int, caller: str, called: str, announcement: str) -> str:
    """What the agent hears on picking up: who calls, and that 1 accepts. Silence hangs up."""
    from twilio.twiml.voice_response import VoiceResponse

    from switchboard.channels.twilio_webhook import retried

    response = VoiceResponse()
    gather = response.gather(
        num_digits=1, timeout=SCREEN_SECONDS, action=retried(f"{public_url}{SCREENED_PATH}?{_query(call_sid, attempt, caller, called)}"),
        method="POST", action_on_empty_result=True,
    )
    gather.say(f"{announcement} Press {ACCEPT_DIGIT} to accept.")
    response.hangup()
    return str(response)


def announcement(caller: str, customer_name: str | None, open_conversations: int) -> str:
    """ "Support call from +1 4 1 5 ..., Jane Doe, 2 open conversations." """
    who = "a withheld number" if caller.startswith("withheld:") else " ".join(caller)  # digit by digit
    name = f", {customer_name}" if customer_name else ""
    count = "no open conversations" if not open_conversations else f"{open_conversations} open conversation{'s' if open_conversations != 1 else ''}"
    return f"Support call from {who}{name}, {count}."


def bridged_twiml() -> str:
    """Accepted: an empty answer ends the screening, and Twilio bridges the two."""
    from twilio.twiml.voice_response import VoiceResponse

    return str(VoiceResponse())


def declined_twiml() -> str:
    from twilio.twiml.voice_response import VoiceResponse

    response = VoiceResponse()
    response.hangup()
    return str(response)


# ---- calling a customer back (`12 CALL`) ---------------------------------------------------


def callback_url(public_url: str, conversation_id: str, agent_id: str, customer: str) -> str:
    """Where Twilio fetches the TwiML once the agent answers our call to them."""
    from switchboard.channels.twilio_webhook import retried

    return retried(f"{public_url}{CALLBACK_PATH}?" + urlencode({"conversation": conversation_id, "agent": agent_id, "customer": customer}))


def callback_screen_twiml(public_url: str, query: str, customer_words: str) -> str:
    """The agent answered: 1 calls the customer (so their own voicemail never does)."""
    from twilio.twiml.voice_response import VoiceResponse

    from switchboard.channels.twilio_webhook import retried

    response = VoiceResponse()
    gather = response.gather(num_digits=1, timeout=SCREEN_SECONDS, action=retried(f"{public_url}{CALLBACK_CONNECT_PATH}?{query}"), method="POST")
    gather.say(f"Switchboard call back to {customer_words}. Press {ACCEPT_DIGIT} to call now.")
    response.hangup()
    return str(response)


def callback_dial_twiml(public_url: str, query: str, customer: str, support_number: str, timeout: int, record: bool) -> str:
    """Put the agent through to the customer, who sees the support number."""
    from twilio.twiml.voice_response import Dial, VoiceResponse

    from switchboard.channels.twilio_webhook import retried

    response = VoiceResponse()
    response.say("Calling.")
    dial = Dial(action=retried(f"{public_url}{CALLBACK_DONE_PATH}?{query}"), method="POST", timeout=timeout, caller_id=support_number,
                record="record-from-answer-dual" if record else None)
    dial.number(customer)
    response.append(dial)
    return str(response)
