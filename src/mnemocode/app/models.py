"""A configured model as the agent holds it, and the one-token call that proves it works."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mnemocode.agent.loop import ModelSlot
from mnemocode.config.settings import ModelConfig
from mnemocode.core.protocols import ChatModel
from mnemocode.core.types import Message, ModelRequest, Usage
from mnemocode.llm.base import complete
from mnemocode.llm.cost import cost_usd

if TYPE_CHECKING:
    pass


async def probe_model(model: ChatModel) -> str:
    """One tiny call: proves the key, the endpoint and the model name."""
    request = ModelRequest([Message.user("Reply with the single word: ok")], max_output_tokens=5)
    response = await complete(model, request)
    return response.message.text


def model_slot(model: ChatModel, config: ModelConfig) -> ModelSlot:
    def price(usage: Usage) -> float | None:
        return cost_usd(config.model, usage, config.input_price, config.output_price)

    return ModelSlot(model, config.context_window, price)
