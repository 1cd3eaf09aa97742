"""``framestamp serve``: a local web page that asks the models "when?" and shows the answer.

The data path: the page (``static/``) sends an upload or an example's name and a question ->
:mod:`.sources` reads the audio as the CLI does -> :mod:`.questions` asks one ``Stamper`` method,
with a checkpoint from :mod:`.models` (loaded once, used one answer at a time) -> :mod:`.payload`
turns the answer into the CLI's JSON, the files to download, and curves to draw -> the page draws
the waveform, the frame intensities and the decoded times, and plays the audio from a marker.
:mod:`.app` holds the routes; :mod:`.limits` the upload limit; :mod:`.config` the settings.
"""
