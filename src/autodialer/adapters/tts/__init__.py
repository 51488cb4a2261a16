"""Text-to-speech for poll prompts: the engine interface, espeak-ng, and the content-addressed prompt cache."""
