// prometheus-adapter rules (the Helm chart's `rules.custom`, the adapter's `rules:` config), checked
// offline: the keys each rule may have, the resource mapping a Pods metric needs, the template
// parts of metricsQuery, and which custom-metric names the rules expose.
//
// Only literal series names are resolved (`name{...}` or `{__name__="name",...}`); a rule that
// selects series by regular expression cannot be resolved without a Prometheus and is reported.

const RULE_KEYS = new Set(["seriesQuery", "seriesFilters", "resources", "name", "metricsQuery"]);
const RULES_KEYS = new Set(["default", "custom", "existing", "external", "resource"]);

function literalSeries(query) {
  const q = String(query).trim();
  const plain = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{.*\})?$/.exec(q);
  if (plain) return plain[1];
  const eq = /__name__\s*=\s*"([a-zA-Z_:][a-zA-Z0-9_:]*)"/.exec(q);
  return eq ? eq[1] : null;
}

/** The custom-metric name a rule gives a series (prometheus-adapter's naming rules). */
function exposedName(rule, series) {
  const matches = rule.name?.matches ?? "^(.*)$";
  const re = new RegExp(matches);
  const m = re.exec(series);
  if (!m) return null;
  const as = rule.name?.as ?? (m.length > 1 ? "$1" : "$0");
  return as.replace(/\$\{?(\d+)\}?/g, (_, n) => m[Number(n)] ?? "");
}

export function adapterRules(values) {
  return values?.rules?.custom ?? [];
}

/** Problems in the rules section of a prometheus-adapter values document. */
export function adapterCheck(values, source) {
  const problems = [];
  const rules = values?.rules;
  if (!rules || typeof rules !== "object") return [`${source}: no rules section`];
  for (const k of Object.keys(rules)) if (!RULES_KEYS.has(k)) problems.push(`${source}: rules.${k} is not a prometheus-adapter chart rules key`);
  adapterRules(values).forEach((rule, i) => {
    const at = `${source}: rules.custom[${i}]`;
    for (const k of Object.keys(rule)) if (!RULE_KEYS.has(k)) problems.push(`${at}.${k} is not a rule key (${[...RULE_KEYS].join(", ")})`);
    if (typeof rule.seriesQuery !== "string") problems.push(`${at}: seriesQuery missing`);
    else if (!literalSeries(rule.seriesQuery)) problems.push(`${at}: seriesQuery ${rule.seriesQuery} does not name one series literally; cannot be checked offline`);
    const mq = rule.metricsQuery ?? "";
    for (const part of ["<<.Series>>", "<<.LabelMatchers>>", "<<.GroupBy>>"]) {
      if (!mq.includes(part)) problems.push(`${at}: metricsQuery lacks ${part}`);
    }
    const r = rule.resources ?? {};
    const ov = r.overrides ?? {};
    const mapsPods = r.template === "<<.Resource>>" || (ov.pod?.resource === "pod" && ov.namespace?.resource === "namespace");
    if (!mapsPods) problems.push(`${at}: resources do not map the namespace and pod labels to namespace and pod (a Pods metric needs both)`);
    if (rule.name?.matches !== undefined) {
      try {
        new RegExp(rule.name.matches);
      } catch (e) {
        problems.push(`${at}: name.matches is not a regular expression: ${e.message}`);
      }
    }
  });
  return problems;
}

/** The custom-metric names the rules expose. */
export function adapterMetricNames(values) {
  const names = new Set();
  for (const rule of adapterRules(values)) {
    const series = literalSeries(rule.seriesQuery ?? "");
    if (!series) continue;
    let n = null;
    try {
      n = exposedName(rule, series);
    } catch {
      n = null;
    }
    if (n) names.add(n);
  }
  return names;
}
