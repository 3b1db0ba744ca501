// Package dbapi holds the contract between the RideShare services, the
// orchestrator and the workers: the declared schema, the JSON requests and
// answers of the DB API, and the replication-log entry.
//
// The schema is fixed and declared once, here. Every table and column name that
// reaches SQL has been checked against it, so identifiers are never taken from
// user input; values are always bound parameters.
package dbapi

// ColumnType is the storage type of a column.
type ColumnType string

const (
	Text    ColumnType = "text"
	Integer ColumnType = "integer"
)

// Column is one declared column.
type Column struct {
	Name string
	Type ColumnType
}

// Table is one declared table. AutoID names the integer column whose value the
// master generates on insert (empty when the table has none).
type Table struct {
	Name       string
	Columns    []Column
	PrimaryKey []string
	AutoID     string
}

// Column returns the named column and whether the table declares it.
func (t Table) Column(name string) (Column, bool) {
	for _, c := range t.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

// ColumnNames lists the table's columns in declaration order.
func (t Table) ColumnNames() []string {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	return names
}

// Schema is the whole database: users, rides and ride members (docs/api.md,
// "Orchestrator DB API").
var Schema = []Table{
	{
		Name:       "users",
		Columns:    []Column{{"username", Text}, {"password", Text}},
		PrimaryKey: []string{"username"},
	},
	{
		Name: "rides",
		Columns: []Column{
			{"ride_id", Integer}, {"created_by", Text}, {"timestamp", Text},
			{"source", Integer}, {"destination", Integer},
		},
		PrimaryKey: []string{"ride_id"},
		AutoID:     "ride_id",
	},
	{
		Name:       "ride_users",
		Columns:    []Column{{"ride_id", Integer}, {"username", Text}},
		PrimaryKey: []string{"ride_id", "username"},
	},
}

// LookupTable returns the declared table with that name.
func LookupTable(name string) (Table, bool) {
	for _, t := range Schema {
		if t.Name == name {
			return t, true
		}
	}
	return Table{}, false
}
