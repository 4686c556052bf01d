from madoguchi.tenants.models import Organisation


def test_master_is_loaded(db):
    assert Organisation.objects.count() == 1963
