package warehouse

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/tessera-cdp/tessera/transform"
)

// Table is a table the stages publish by as-of date: its name and the columns
// a stage writes, without as_of and run_id, which the warehouse adds. The
// migrations in sql/migrations create them; a test checks the two agree.
type Table struct {
	Name   string
	Schema *arrow.Schema
}

// Columns is the schema of some of the table's columns, in the order named:
// what a reader asks for. run_id may be named too. An unknown name is a
// programming error and panics.
func (t Table) Columns(names ...string) *arrow.Schema {
	fields := make([]arrow.Field, len(names))
	for i, n := range names {
		if n == "run_id" {
			fields[i] = arrow.Field{Name: n, Type: arrow.BinaryTypes.String}
			continue
		}
		k := t.Schema.FieldIndices(n)
		if len(k) != 1 {
			panic(fmt.Sprintf("table %s has no column %s", t.Name, n))
		}
		fields[i] = t.Schema.Field(k[0])
	}
	return arrow.NewSchema(fields, nil)
}

func str(name string) arrow.Field { return arrow.Field{Name: name, Type: arrow.BinaryTypes.String} }

func f64(name string) arrow.Field { return arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Float64} }

func i32(name string) arrow.Field { return arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Int32} }

func nullable(f arrow.Field) arrow.Field {
	f.Nullable = true
	return f
}

// The published tables and score's parts of a sharded run.
var (
	// CustomerFeatures: one row per buyer (transform.Features documents each column).
	CustomerFeatures = Table{"customer_features", transform.FeatureSchema}

	CustomerScores = Table{"customer_scores", arrow.NewSchema([]arrow.Field{
		str("customer_id"), str("model_id"),
		f64("frequency"), f64("recency_days"), f64("age_days"), nullable(f64("p_alive")),
		nullable(f64("expected_purchases_90d")), nullable(f64("expected_purchases_30d")), nullable(f64("expected_purchases_365d")),
		nullable(f64("next_order_in_days")), {Name: "next_order_date", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		nullable(f64("expected_order_value")), nullable(f64("clv_12m")), str("prediction_note"),
		i32("rfm_r"), i32("rfm_f"), i32("rfm_m"), str("rfm_code"), str("rfm_segment"), str("rfm_cell"),
		str("lifecycle_stage"), str("vip_tier"), str("vip_handling"), nullable(f64("potential_vip_probability")),
		{Name: "first_order_date", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		str("strategy"), str("action"), str("micro_segment"), f64("discount_sensitivity"), str("offer"), f64("offer_discount"),
		nullable(i32("best_hour")), nullable(i32("best_weekday")), str("preferred_channel"), str("product_feed"),
		str("early_vip_model_id"),
	}, nil)}

	Segments = Table{"segments", arrow.NewSchema([]arrow.Field{
		str("segment_id"), str("macro_group"), str("label"), i32("size"),
		f64("revenue_12m"), f64("revenue_share"), f64("mean_clv"), f64("churn_risk"), f64("revenue_at_risk"),
		str("strategy"),
	}, nil)}

	SegmentMembers = Table{"segment_members", arrow.NewSchema([]arrow.Field{
		str("segment_id"), str("customer_id"), str("lifecycle_stage"), str("vip_tier"), str("strategy"), str("action"),
		f64("discount_sensitivity"), str("offer"), f64("offer_discount"), i32("best_hour"), i32("best_weekday"), str("preferred_channel"), str("product_feed"),
		{Name: "control_group", Type: arrow.FixedWidthTypes.Boolean},
	}, nil)}

	SegmentFeed = Table{"segment_feed", arrow.NewSchema([]arrow.Field{
		str("segment_id"), i32("rank"), str("product_id"), i32("buyers"), f64("lift"),
	}, nil)}

	SegmentChanges = Table{"segment_changes", arrow.NewSchema([]arrow.Field{
		{Name: "previous_as_of", Type: arrow.FixedWidthTypes.Date32},
		str("customer_id"), str("dimension"), str("change"), str("from_value"), str("to_value"),
	}, nil)}

	// SegmentLift is what each published segment's campaign did: treated
	// members against the control group, over a window after the date.
	SegmentLift = Table{"segment_lift", arrow.NewSchema([]arrow.Field{
		str("segment_id"), str("label"), i32("window_days"), i32("treated"), i32("control"),
		i32("treated_buyers"), i32("control_buyers"), nullable(f64("treated_conversion")), nullable(f64("control_conversion")),
		nullable(f64("conversion_diff")), nullable(f64("conversion_diff_low")), nullable(f64("conversion_diff_high")),
		nullable(f64("conversion_p_value")), nullable(f64("conversion_q_value")), nullable(f64("conversion_relative")), nullable(f64("treated_orders_per_member")),
		nullable(f64("control_orders_per_member")), nullable(f64("orders_diff")),
		nullable(f64("treated_revenue_per_member")), nullable(f64("control_revenue_per_member")), nullable(f64("revenue_diff")),
		nullable(f64("revenue_diff_low")), nullable(f64("revenue_diff_high")), nullable(f64("revenue_relative")),
		nullable(f64("mde_conversion")), str("verdict"),
	}, nil)}

	// CustomerProfiles are what each shard of score knows of its customers
	// (a buyer's profile, LTV predictions and basket; a registered customer
	// without orders has only an id): the part shard 0 plans the date from and
	// each shard of publish builds its rows from. NaN is a value not predicted.
	CustomerProfiles = Table{"customer_profiles", arrow.NewSchema([]arrow.Field{
		str("customer_id"), str("model_id"), {Name: "buyer", Type: arrow.FixedWidthTypes.Boolean}, i32("orders"),
		{Name: "first_order_date", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		f64("days_since_first"), f64("days_since_last"), f64("last_gap_days"), f64("interorder_mean_days"),
		f64("revenue"), f64("revenue_12m"), f64("avg_check"), f64("discount_share"), f64("p_alive"), f64("clv_12m"),
		f64("early_vip"), f64("potential_vip_probability"), str("top_category"), str("top_brand"), str("preferred_channel"),
		i32("best_hour"), i32("best_weekday"), f64("discount_depth"), f64("price_level"), f64("email_click_rate"),
		f64("frequency"), f64("recency_days"), f64("age_days"), f64("expected_purchases_30d"), f64("expected_purchases_90d"),
		f64("expected_purchases_365d"), f64("expected_order_value"), nullable(f64("next_order_in_days")), str("prediction_note"),
		str("basket"),
	}, nil)}

	// CustomerPlan is what shard 0 of score decided for each customer from
	// every shard's profiles: the part of each shard's customers.
	CustomerPlan = Table{"customer_plan", arrow.NewSchema([]arrow.Field{
		str("customer_id"), str("lifecycle_stage"), str("vip_tier"), str("value_tier"),
		i32("rfm_r"), i32("rfm_f"), i32("rfm_m"), str("micro_segment"), {Name: "control_group", Type: arrow.FixedWidthTypes.Boolean},
	}, nil)}
)

// Published are the tables publish swaps in for a date, in this order, once
// score has staged them (publish stages segment_changes and segment_feed
// itself, under the score run).
var Published = []Table{CustomerScores, Segments, SegmentMembers, SegmentFeed, SegmentChanges}

// Scored are the tables staged under the score run for publish to swap in
// (segment_feed by publish, from its pods' counts of every member's basket;
// segment_changes is publish's own).
var Scored = []Table{CustomerScores, Segments, SegmentMembers, SegmentFeed}

// Parted are written only as parts of a sharded stage (WritePart), each a
// table of the structure of <name>_staging, and never published.
var Parted = []Table{CustomerProfiles, CustomerPlan}

// Tables are every table written by as-of date.
var Tables = append([]Table{CustomerFeatures}, append(append(Published, Parted...), SegmentLift)...)

// KeyColumn is the column a read of a table's rows is ordered by: the
// schema's first, its key (customer_id for the tables of customers).
func KeyColumn(schema *arrow.Schema) string { return schema.Fields()[0].Name }
