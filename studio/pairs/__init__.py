"""DPO pairs: candidate mining from a model, execution-verified pair building, the curation
store and export. See docs/PAIRS.md.

    studio.pairs.curate   list_pairs, get_pair, pair_history, set_status, edit_pair,
                          bulk_set_status, pair_counts (the UI's and CLI's curation API)
    studio.pairs.export   export_pairs
    studio.pairs.launch   start_mining (mining as a job; studio.jobs.kinds resumes it)
    studio.pairs.mine     mine, rebuild_pairs (in-process)
"""
