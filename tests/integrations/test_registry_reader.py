import json

from integrations.registry.reader import read_landed_file


def test_a_csv_with_a_missing_required_column_is_refused_as_a_whole(tmp_path):
    path = tmp_path / "devices.csv"
    path.write_text("device_id,site_id,device_type\nD1,S1,battery\n")
    landed = read_landed_file(path, "b1")
    assert not landed.rows
    assert landed.problems[0][1] == "bad_header"
    assert "missing columns controllable, rated_power_kw" in landed.problems[0][2]


def test_an_unexpected_column_is_named(tmp_path):
    path = tmp_path / "pools.csv"
    path.write_text("pool_id,market,name,colour\nP1,afrr,a,red\n")
    landed = read_landed_file(path, "b1")
    assert "unexpected columns colour" in landed.problems[0][2]


def test_csv_rows_keep_their_physical_line_numbers_and_blank_lines_are_skipped(tmp_path):
    path = tmp_path / "pools.csv"
    path.write_text('pool_id,market,name\nP1,afrr,"two\nlines"\n\nP2,mfrr,b\n')
    landed = read_landed_file(path, "b1")
    assert [line for line, _ in landed.rows] == [3, 5]
    assert landed.rows[0][1]["name"] == "two\nlines"


def test_a_malformed_csv_record_costs_only_its_own_line(tmp_path):
    path = tmp_path / "pools.csv"
    path.write_bytes(b'pool_id,market,name\nP1,afrr,a\nP2,"mfrr\x00,b\nP3,afrr,c\n')
    landed = read_landed_file(path, "b1")
    assert [(line, row["pool_id"]) for line, row in landed.rows] == [(2, "P1"), (4, "P3")]
    assert [problem[:2] for problem in landed.problems] == [(3, "malformed_csv")]


def test_a_file_that_is_not_utf8_is_refused_with_the_byte_offset(tmp_path):
    path = tmp_path / "pools.csv"
    path.write_bytes("pool_id,market,name\nP1,afrr,caf\xe9\n".encode("latin-1"))
    landed = read_landed_file(path, "b1")
    assert landed.problems[0][1] == "not_utf8"
    assert "byte 31" in landed.problems[0][2]


def test_json_records_are_read_like_csv_rows(tmp_path):
    path = tmp_path / "devices.json"
    path.write_text(
        json.dumps(
            [
                {
                    "device_id": "D1",
                    "site_id": "S1",
                    "device_type": "battery",
                    "rated_power_kw": 5,
                    "controllable": True,
                    "oem": None,
                    "strike_price_eur_mwh": None,
                },
                "not a record",
            ]
        )
    )
    landed = read_landed_file(path, "b1")
    assert landed.rows[0] == (
        1,
        {
            "device_id": "D1",
            "site_id": "S1",
            "device_type": "battery",
            "rated_power_kw": "5",
            "controllable": "true",
            "oem": None,
            "strike_price_eur_mwh": None,
        },
    )
    assert landed.problems == [(2, "malformed_record", "devices.json record 2 is not an object")]


def test_an_unknown_file_name_is_refused(tmp_path):
    path = tmp_path / "meters.csv"
    path.write_text("meter_id\nM1\n")
    landed = read_landed_file(path, "b1")
    assert landed.entity is None
    assert landed.problems[0][1] == "unknown_file"
