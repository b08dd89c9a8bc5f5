from .agent import AgentConsumer
from .visitor import VisitorConsumer

__all__ = ["AgentConsumer", "VisitorConsumer"]
