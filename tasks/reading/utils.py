"""Reading times (BabyLM 2025): documents and scores live in classit_eval.reading.task."""

from classit_eval.reading.task import aggregation, doc_to_target, doc_to_text, load, process_results

__all__ = ["load", "doc_to_text", "doc_to_target", "process_results"]

eye_tracking = aggregation("eye_tracking")
self_paced_reading = aggregation("self_paced_reading")
RTfirstfix = aggregation("RTfirstfix")
RTfirstpass = aggregation("RTfirstpass")
RTgopast = aggregation("RTgopast")
RTrightbound = aggregation("RTrightbound")
self_paced_reading_time = aggregation("self_paced_reading_time")
ELAN = aggregation("ELAN")
LAN = aggregation("LAN")
N400 = aggregation("N400")
P600 = aggregation("P600")
EPNP = aggregation("EPNP")
PNP = aggregation("PNP")
eye_tracking_ci_low = aggregation("eye_tracking_ci_low")
eye_tracking_ci_high = aggregation("eye_tracking_ci_high")
self_paced_reading_ci_low = aggregation("self_paced_reading_ci_low")
self_paced_reading_ci_high = aggregation("self_paced_reading_ci_high")
