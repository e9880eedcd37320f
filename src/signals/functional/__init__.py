"""The functional suite and the augmentation templates, in modules training and evaluation import apart.

* ``signals.functional.common``: what both halves share: functionality names, ``IdentityGroup``,
  the evaluation suite's identity groups and slot fillers, expected-label shorthands, obfuscation.
* ``signals.functional.suite``: the evaluation suite (``suite_cases``, ``run_suite``,
  ``evaluate_model_dir``; ``python -m signals.functional.suite MODEL_DIR --out DIR``). Never used for
  training.
* ``signals.functional.augment``: the training augmentation templates (``augmentation_templates``,
  with filler-swapped twins) and the leak guard (``skeleton``, ``evaluation_overlap``). It never
  imports ``suite``: the guard reads the suite's wording from ``eval_skeletons.txt``, which
  ``suite.write_eval_skeletons`` regenerates and a unit test keeps in step.

This package imports none of them, so importing one never loads another.
"""
