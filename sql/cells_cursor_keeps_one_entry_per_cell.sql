-- Readers merge cells (independent installations) with one cells cursor:
-- one '<cell>:<cursor>' entry per cell.  cells_cursor_advance() folds a
-- row's cursor in, replacing that cell's entry and keeping the others, in
-- cell order; a malformed cursor is refused and nothing is returned.  The
-- reads themselves, across two real cells, are tested in
-- t/cells_split_by_flow.pl.
\i sql/helpers/expect_error.sql
-- from nothing
SELECT candystore.cells_cursor_advance(NULL, 'b:0000000000000002-0000000000000005');
-- another cell joins, in cell order
SELECT candystore.cells_cursor_advance('b:0000000000000002-0000000000000005',
                                       'a:0000000000000003-0000000000000001');
-- a cell's entry is replaced, the other kept
SELECT candystore.cells_cursor_advance('a:0000000000000003-0000000000000001,b:0000000000000002-0000000000000005',
                                       'b:0000000000000009-000000000000000a');
-- taken apart
SELECT * FROM candystore.cells_cursor_entries('a:0000000000000003-0000000000000001,b_2-x:0000000000000002-0000000000000005');
SELECT count(*) AS entries_of_null FROM candystore.cells_cursor_entries(NULL);
SELECT count(*) AS entries_of_empty FROM candystore.cells_cursor_entries('');
-- refused
SELECT pg_temp.expect_error($$SELECT candystore.cells_cursor_advance(NULL, '0000000000000002-0000000000000005')$$) AS cursor_without_cell;
SELECT pg_temp.expect_error($$SELECT candystore.cells_cursor_advance(NULL, NULL)$$) AS null_cursor;
SELECT pg_temp.expect_error($$SELECT candystore.cells_cursor_advance('a:1', 'a:0000000000000002-0000000000000005')$$) AS malformed_cells_cursor;
SELECT pg_temp.expect_error($$SELECT candystore.cells_cursor_advance('a:0000000000000002-0000000000000005,a:0000000000000003-0000000000000005', 'b:0000000000000002-0000000000000005')$$) AS cell_twice;
SELECT pg_temp.expect_error($$SELECT candystore.cells_cursor_advance(NULL, 'a,b:0000000000000002-0000000000000005')$$) AS comma_in_cell;
SELECT pg_temp.expect_error($$SELECT * FROM candystore.cells_cursor_entries('a:0000000000000002-0000000000000005,')$$) AS trailing_comma;
-- this installation is no cell: read_cell() says so
SELECT candystore.cell_id() IS NULL AS not_a_cell;
SELECT pg_temp.expect_error($$SELECT * FROM candystore.read_cell(NULL)$$) AS read_cell_without_cell_id;
-- the cell id is the server's, and is checked
SELECT pg_temp.expect_error($$SET candystore.cell_id = 'a'$$) AS set_in_a_session;
ALTER SYSTEM SET candystore.cell_id = 'a:b';
