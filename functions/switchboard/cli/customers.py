"""The `switchboard customers` commands: a customer's identities and conversations, and linking two customers into one."""

from __future__ import annotations

import argparse
from typing import Any

from switchboard.cli.environment import data_environment, open_conversation_store, required_env
from switchboard.cli.errors import EXIT_NOT_FOUND, CliError
from switchboard.cli.output import format_table, print_json, when
from switchboard.cli.references import parse_customer_reference
from switchboard.models import to_json_dict


def _customer_stores():
    import boto3

    from switchboard.store.customers import CustomerStore

    client = boto3.client("dynamodb")
    table = required_env("TABLE_NAME")
    return CustomerStore(client, table), open_conversation_store()


def _customer_document(customer, conversations) -> dict[str, Any]:
    document = to_json_dict(customer)
    document["conversations"] = [
        {k: v for k, v in to_json_dict(c).items() if k != "messages"} for c in conversations if not c.merged_into
    ]
    return document


def cmd_customers_show(args: argparse.Namespace) -> int:
    from switchboard.conversations.customers import LinkError, resolve_customer

    reference = parse_customer_reference(args.customer)
    with data_environment(args.stack):
        customers, conversation_store = _customer_stores()
        try:
            customer = resolve_customer(customers, reference)
        except LinkError as error:
            raise CliError(str(error), EXIT_NOT_FOUND) from None
        conversations = conversation_store.get_conversations(customer.conversation_ids)
    if args.json:
        print_json(_customer_document(customer, conversations))
        return 0
    print(f"Customer     {customer.display_name or '-'}  [{customer.customer_id}]")
    print(f"Since        {when(customer.created_at)} UTC")
    for identity in customer.identities:
        handle = f" (@{identity.handle})" if identity.handle else ""
        name = f"  {identity.display_name}" if identity.display_name else ""
        mark = "  (UNVERIFIED: sent without authentication)" if identity.unverified else ""
        print(f"Identity     {identity.kind.value:<6} {identity.value}{handle}{name}{mark}")
    print()
    rows = [
        [c.conversation_id, c.channel.value, c.status.value, str(c.message_count), when(c.last_activity_at), c.last_message_preview[:40]]
        for c in conversations
        if not c.merged_into
    ]
    print(format_table(rows, ["CONVERSATION", "CHANNEL", "STATUS", "MSGS", "LAST ACTIVITY (UTC)", "LATEST"]))
    return 0


def cmd_customers_link(args: argparse.Namespace) -> int:
    from switchboard.conversations.customers import LinkError, link_customers
    from switchboard.models import utc_now

    survivor, absorbed = parse_customer_reference(args.customer), parse_customer_reference(args.other)
    with data_environment(args.stack):
        customers, conversation_store = _customer_stores()
        try:
            result = link_customers(customers, conversation_store, survivor, absorbed, utc_now())
        except LinkError as error:
            raise CliError(str(error), EXIT_NOT_FOUND) from None
    if args.json:
        print_json(to_json_dict(result))
    elif result.already_linked:
        print(f"already one customer: {result.survivor_id}")
    else:
        print(f"merged customer {result.absorbed_id} into {result.survivor_id} ({result.messages_moved} messages moved)")
    return 0


# ---- parser ----------------------------------------------------------------------------


def add_parsers(commands: Any, data_options: Any) -> None:
    customers = commands.add_parser("customers", help="customers and their identities on every channel").add_subparsers(dest="action", required=True, metavar="ACTION")
    customer_show = customers.add_parser("show", help="a customer's identities and conversations")
    customer_show.add_argument("customer", help="customer id, or an identity: +E.164 phone, email address, x:<user id>")
    data_options(customer_show)
    customer_show.set_defaults(run=cmd_customers_show)
    link = customers.add_parser(
        "link",
        help="merge two customers into one (the second into the first); safe to repeat",
        description="Merge customer B into customer A: B's identities and conversation history join A's stream, "
        "in time order, and later messages on any of them go to A. Running it again finishes an interrupted merge.",
    )
    link.add_argument("customer", metavar="A", help="the customer that stays (id or identity)")
    link.add_argument("other", metavar="B", help="the customer folded into A (id or identity)")
    data_options(link)
    link.set_defaults(run=cmd_customers_link)
