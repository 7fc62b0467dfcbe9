"""An agent built on the Claude Agent SDK (Python), written as teams write it: it knows nothing about
pytest-claude-sessions. The SDK starts the ``claude`` CLI as a child process; its tests (``tests/``) run
the agent as it is, the plugin interposing that process."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claude_agent_sdk import (
    ClaudeAgentOptions,
    ClaudeSDKClient,
    HookMatcher,
    PermissionResultAllow,
    PermissionResultDeny,
    ResultMessage,
    create_sdk_mcp_server,
    query,
    tool,
)

ORDERS = {"42": "two blue mugs, shipped on Monday"}


@dataclass
class Answer:
    text: str
    session_id: str
    cost_usd: float | None


async def ask(
    prompt: str,
    *,
    cwd: Path,
    resume: str | None = None,
    fork: bool = False,
    cli_path: str | None = None,
) -> Answer:
    """One ``query()``: a new conversation, or a resume (``fork=True``: a fork) of ``resume``."""
    options = ClaudeAgentOptions(cwd=cwd, resume=resume, fork_session=fork, cli_path=cli_path)
    result: ResultMessage | None = None
    async for message in query(prompt=prompt, options=options):
        if isinstance(message, ResultMessage):
            result = message
    assert result is not None, "the SDK gave no result"
    return Answer(result.result or "", result.session_id, result.total_cost_usd)


@tool("lookup_order", "Look up an order by its id", {"order_id": str})
async def lookup_order(args: dict[str, Any]) -> dict[str, Any]:
    found = ORDERS.get(str(args["order_id"]), "no such order")
    return {"content": [{"type": "text", "text": f"order {args['order_id']}: {found}"}]}


@dataclass
class Assistant:
    """A ``ClaudeSDKClient`` conversation with a hook, a permission callback and an SDK MCP tool."""

    cwd: Path
    allow_writes: bool = True
    cli_path: str | None = None
    tools_seen: list[str] = field(default_factory=list)
    permissions_asked: list[str] = field(default_factory=list)

    def options(self) -> ClaudeAgentOptions:
        async def before_tool(input_data: Any, tool_use_id: str | None, context: Any) -> Any:
            self.tools_seen.append(str(input_data.get("tool_name")))
            return {}

        async def may_use(tool_name: str, tool_input: dict[str, Any], context: Any) -> Any:
            self.permissions_asked.append(tool_name)
            if self.allow_writes:
                return PermissionResultAllow()
            return PermissionResultDeny(message="writing files is not allowed here")

        return ClaudeAgentOptions(
            cwd=self.cwd,
            cli_path=self.cli_path,
            hooks={"PreToolUse": [HookMatcher(hooks=[before_tool])]},
            can_use_tool=may_use,
            mcp_servers={"orders": create_sdk_mcp_server("orders", tools=[lookup_order])},
            allowed_tools=["mcp__orders__lookup_order"],
        )

    async def chat(self, *prompts: str) -> list[ResultMessage]:
        """Several turns in one client: one CLI process, one session."""
        results: list[ResultMessage] = []
        async with ClaudeSDKClient(options=self.options()) as client:
            for prompt in prompts:
                await client.query(prompt)
                async for message in client.receive_response():
                    if isinstance(message, ResultMessage):
                        results.append(message)
        return results
