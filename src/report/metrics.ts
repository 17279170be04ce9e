import { Counter, Histogram, Registry } from "prom-client";

/**
 * Metrics of `proof adapt` in the Prometheus text exposition format (prom-client): selected
 * rules, plans per selector, `when` evaluation failures, and selection latency in seconds.
 * Labels never carry context values.
 */
export class AdaptMetrics {
  private readonly registry = new Registry();
  private readonly selected = new Counter({
    name: "adapt_selected_rules_total",
    help: "Rules selected as active by proof adapt.",
    registers: [this.registry],
  });
  private readonly plans = new Counter({
    name: "adapt_plans_total",
    help: "Plans made by proof adapt, per selector.",
    labelNames: ["selector"],
    registers: [this.registry],
  });
  private readonly failures = new Counter({
    name: "adapt_selection_failures_total",
    help: "Rule predicates (when) that failed to evaluate; their rules stay active.",
    registers: [this.registry],
  });
  private readonly latency = new Histogram({
    name: "adapt_selection_latency_seconds",
    help: "Time to select and order the rules of one plan, in seconds.",
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });

  constructor() {
    // Every series exists from the start, so a scrape of a fresh run shows zeros, not gaps.
    this.plans.labels("basic").inc(0);
    this.plans.labels("weighted").inc(0);
  }

  /** Records one plan: how many rules it selected, its selector, failures and latency. */
  record(selector: string, selected: number, failures: number, seconds: number): void {
    this.selected.inc(selected);
    this.plans.labels(selector).inc();
    this.failures.inc(failures);
    this.latency.observe(seconds);
  }

  /** The metrics as Prometheus text. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}
