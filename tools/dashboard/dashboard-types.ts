// The type a MillionWS dashboard JSON must satisfy: @grafana/schema's classic `Dashboard`,
// made assignable from plain JSON and tightened where the schema is open. check-types.py
// embeds each dashboard as an object literal of type `MillionwsDashboard` (so TypeScript's
// excess-property checks apply: `gridPoss`, `colapsed`, `refresh: 10` and enum typos fail).
import type {
  Dashboard,
  FieldConfig,
  FieldConfigSource,
  Panel,
  RowPanel,
} from '@grafana/schema';
import type * as Stat from '@grafana/schema/dist/esm/raw/composable/stat/panelcfg/x/StatPanelCfg_types.gen';
import type * as TimeSeries from '@grafana/schema/dist/esm/raw/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen';
import type { DatasourceUid } from './datasource-uid';

// Grafana's enums (FieldColorModeId, ThresholdsMode, LegendDisplayMode, ...) are TypeScript
// *string enums*, which a JSON string never satisfies (`"absolute"` is not
// `ThresholdsMode.Absolute` to the compiler). `${E}` turns a string enum into the union of its
// values; recursing keeps every object's declared keys, so excess-property checks still bite.
// Numeric enums (DashboardCursorSync) already accept their numeric values and are kept.
export type Jsonify<T> = T extends string
  ? `${T}`
  : T extends number | boolean | null | undefined
    ? T
    : T extends ReadonlyArray<infer U>
      ? Array<Jsonify<U>>
      : T extends object
        ? { [K in keyof T]: Jsonify<T[K]> }
        : T;

// The schema leaves a panel's `datasource` and `targets[]` open (DataQuery allows any key):
// here every panel and query names the provisioned Prometheus by uid, and a query has only
// the keys Grafana's Prometheus editor writes (so `exp`/`legendFormt` typos fail).
type Datasource = { type: 'prometheus'; uid: DatasourceUid };
type PrometheusQuery = {
  refId: string;
  datasource: Datasource;
  expr: string;
  legendFormat?: string;
  editorMode?: 'code' | 'builder';
  range?: boolean;
  instant?: boolean;
  exemplar?: boolean;
  format?: 'time_series' | 'table' | 'heatmap';
  interval?: string;
  intervalFactor?: number;
  hide?: boolean;
};

// Panel `options` and `fieldConfig.defaults.custom` are `Record<string, unknown>` in the
// schema; for the plugins this dashboard uses, type them with the plugin's own schema types.
type FieldConfigWith<Custom> = Omit<Jsonify<FieldConfigSource>, 'defaults'> & {
  defaults: Omit<Jsonify<FieldConfig>, 'custom'> & { custom?: Jsonify<Custom> };
};
type PanelOf<Type extends string, Options, Custom> = Omit<
  Jsonify<Panel>,
  'type' | 'datasource' | 'targets' | 'options' | 'fieldConfig'
> & {
  type: Type;
  datasource: Datasource;
  targets: PrometheusQuery[];
  options: Jsonify<Options>;
  fieldConfig: FieldConfigWith<Custom>;
};
export type TimeSeriesPanel = PanelOf<'timeseries', TimeSeries.Options, TimeSeries.FieldConfig>;
export type StatPanel = PanelOf<'stat', Stat.Options, never>;
// This dashboard keeps rows expanded with their panels at the top level (the classic model).
export type Row = Omit<Jsonify<RowPanel>, 'panels'> & { panels: [] };

export type MillionwsDashboard = Omit<Jsonify<Dashboard>, 'panels'> & {
  uid: string;
  title: string;
  panels: Array<TimeSeriesPanel | StatPanel | Row>;
};
