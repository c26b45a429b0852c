"""Class orders and matching classes by name (datasets/categories.py)."""
import pytest

from ferpretrain.datasets import (APVIT_RAFDB_CATEGORIES, CKPLUS_CATEGORIES,
                                  FER2013_CATEGORIES, JAFFE_CATEGORIES,
                                  RAFDB_CATEGORIES, canonical_expression,
                                  label_permutation, match_classes)


# ------------------------------------------------------------ label orders
def test_categories_and_permutation():
    assert RAFDB_CATEGORIES[0] == 'Surprise'
    assert RAFDB_CATEGORIES[6] == 'Neutral'
    perm = label_permutation(APVIT_RAFDB_CATEGORIES, RAFDB_CATEGORIES)
    assert [APVIT_RAFDB_CATEGORIES[i] for i in perm] == \
        list(RAFDB_CATEGORIES)
    assert perm == [5, 2, 1, 4, 3, 0, 6]
    # the inverse maps back
    inv = label_permutation(RAFDB_CATEGORIES, APVIT_RAFDB_CATEGORIES)
    assert [perm[i] for i in inv] == list(range(7))

    with pytest.raises(ValueError, match='Contempt'):
        label_permutation(RAFDB_CATEGORIES,
                          RAFDB_CATEGORIES[:6] + ('Contempt', ))
    with pytest.raises(ValueError, match='duplicated'):
        label_permutation(RAFDB_CATEGORIES, RAFDB_CATEGORIES + ('Fear', ))


# --------------------------------------------------------- matching by name
@pytest.mark.parametrize('spellings,canonical', [
    (('Angry', 'anger', 'AN', ' ANGER '), 'anger'),
    (('Happy', 'Happiness', 'HA'), 'happiness'),
    (('Sad', 'sadness', 'SA'), 'sadness'),
    (('Surprise', 'surprised', 'SU'), 'surprise'),
    (('Neutral', 'NE'), 'neutral'),
    (('Fear', 'fearful', 'FE'), 'fear'),
    (('Disgust', 'DI'), 'disgust'),
    (('contempt', 'Contempt'), 'contempt'),
    (('No-Face', 'no_face'), 'no face'),
])
def test_canonical_expression(spellings, canonical):
    assert {canonical_expression(s) for s in spellings} == {canonical}


def test_match_fer2013_to_jaffe_is_a_permutation():
    match = match_classes(FER2013_CATEGORIES, JAFFE_CATEGORIES)
    # JAFFE order: Anger Disgust Fear Happiness Neutral Sadness Surprise.
    assert match.model_index == [0, 1, 2, 3, 6, 4, 5]
    assert match.test_only == [] and match.model_only == []
    assert not match.is_identity


def test_match_rafdb_to_ckplus_reports_both_sides():
    match = match_classes(RAFDB_CATEGORIES, CKPLUS_CATEGORIES)
    assert match.test_only == ['contempt']
    assert match.model_only == ['Neutral']
    assert match.model_index == [5, None, 2, 1, 3, 4, 0]
    table = match.format()
    assert 'contempt' in table and 'lacks this class' in table
    assert "['Neutral']" in table


def test_match_identity_and_explicit_merge():
    assert match_classes(RAFDB_CATEGORIES, RAFDB_CATEGORIES).is_identity
    match = match_classes(RAFDB_CATEGORIES, CKPLUS_CATEGORIES,
                          class_map={'contempt': 'Disgust'})
    assert match.model_index[1] == 2
    assert match.merged == {'contempt': 'Disgust'}
    assert match.test_only == []


@pytest.mark.parametrize('kwargs,message', [
    (dict(model_classes=('Angry', 'anger'), test_classes=('Sad', )),
     "'Angry' and 'anger'"),
    (dict(model_classes=('Sad', ), test_classes=('Sad', ),
          class_map={'Happy': 'Sad'}), "'Happy' is not a test class"),
    (dict(model_classes=('Sad', ), test_classes=('Sad', ),
          class_map={'Sad': 'Joy'}), "'Joy' is not a model class"),
])
def test_match_errors_name_the_class(kwargs, message):
    with pytest.raises(ValueError, match=message):
        match_classes(**kwargs)
