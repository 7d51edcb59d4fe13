"""Feature sensitivity (Tian, Tian & Hu 2025): do latents fire on new text written to imitate their examples?"""
