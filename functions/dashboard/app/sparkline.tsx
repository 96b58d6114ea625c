/** A sparkline: a small SVG line of recent values, labelled with the range for screen readers. */

export function Sparkline({
  values,
  label,
  unit = '',
}: {
  values: readonly number[];
  label: string;
  unit?: string;
}) {
  const width = 96;
  const height = 24;
  if (values.length < 2) return <span class="muted">–</span>;
  const max = Math.max(...values, 1);
  const step = width / (values.length - 1);
  const points = values
    .map((v, i) => `${(i * step).toFixed(1)},${(height - 1 - (v / max) * (height - 2)).toFixed(1)}`)
    .join(' ');
  const last = values[values.length - 1] ?? 0;
  const summary = `${label}: now ${round(last)}${unit}, highest ${round(max)}${unit}`;
  return (
    <span class="spark">
      <svg width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label={summary}>
        <title>{summary}</title>
        <polyline points={points} fill="none" stroke="currentColor" stroke-width="1.5" />
      </svg>
      <span class="spark-value">
        {round(last)}
        {unit}
      </span>
    </span>
  );
}

const round = (n: number) => (n >= 10 ? Math.round(n) : Math.round(n * 10) / 10);
